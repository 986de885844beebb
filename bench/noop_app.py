"""A Celery app with one no-op task, configured exactly like printrelay's: the ceiling a
printrelay worker is compared against (same broker, pool, concurrency, acks, prefetch)."""

from __future__ import annotations

import os

import redis
from celery import Celery

from config.celery import celery_config
from config.settings import Settings

settings = Settings(_env_file=None, redis_url=os.environ["PRINTRELAY_REDIS_URL"])  # type: ignore[call-arg]
app = Celery("bench_noop")
app.config_from_object({**celery_config(settings), "beat_schedule": {}})
counter = redis.Redis.from_url(settings.redis_url)


@app.task(name="bench.noop", ignore_result=True)
def noop(n: int) -> None:
    counter.incr("bench:noop:done")
