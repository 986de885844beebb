"""The usual Celery approach to a provider's rate limit, for comparison: ``rate_limit`` on the
task (enforced per worker process) and ``autoretry_for`` on HTTP errors with backoff."""

from __future__ import annotations

import os

import httpx
import redis
from celery import Celery

RATE = os.environ.get("BENCH_RATE", "20/s")
app = Celery("bench_ratelimit", broker=os.environ["PRINTRELAY_REDIS_URL"])
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    worker_timer_precision=0.05,
)
counter = redis.Redis.from_url(os.environ["PRINTRELAY_REDIS_URL"])
client = httpx.Client(timeout=10)


@app.task(
    name="bench.submit",
    rate_limit=RATE,
    autoretry_for=(httpx.HTTPError,),
    retry_backoff=True,
    retry_backoff_max=30,
    retry_jitter=True,
    max_retries=20,
    ignore_result=True,
)
def submit(url: str, key: str, body: dict) -> None:  # type: ignore[type-arg]
    response = client.post(url, json=body, headers={"X-Printeers-Secret-Key": key})
    response.raise_for_status()
    counter.incr("bench:ratelimit:done")
