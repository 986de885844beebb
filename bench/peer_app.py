"""The peer a printrelay job is measured against: a bare Celery task making the same HTTP call with
httpx, configured exactly like printrelay's workers (``config.celery``: same broker, threads pool,
acks late, prefetch 1) and with a pooled client as printrelay has, but nothing else — no job row,
no attempt record, no buckets, no circuit. It counts what it finished in Redis."""

from __future__ import annotations

import os
import time
from typing import Any

import httpx
import redis
from celery import Celery

from config.celery import celery_config
from config.settings import Settings

settings = Settings(_env_file=None, redis_url=os.environ["PRINTRELAY_REDIS_URL"])  # type: ignore[call-arg]
app = Celery("bench_peer")
app.config_from_object({**celery_config(settings), "beat_schedule": {}})
counter = redis.Redis.from_url(settings.redis_url)
client = httpx.Client(timeout=30, limits=httpx.Limits(max_connections=64, max_keepalive_connections=32))


def _done() -> None:
    now = time.time()
    pipe = counter.pipeline(transaction=False)
    pipe.incr("bench:peer:done").set("bench:peer:last", now)
    pipe.execute()


@app.task(name="bench.peer.call", ignore_result=True)
def call(method: str, url: str, key: str, body: Any = None) -> None:
    counter.set("bench:peer:first", time.time(), nx=True)
    response = client.request(method, url, json=body, headers={"X-Printeers-Secret-Key": key, "Accept": "application/json"})
    response.raise_for_status()
    response.json()
    _done()


@app.task(name="bench.peer.track", ignore_result=True)
def track(base: str, reference: str, key: str) -> None:
    """What printrelay's Printeers ``track_order`` sends: the order, then each of its shipments."""
    counter.set("bench:peer:first", time.time(), nx=True)
    headers = {"X-Printeers-Secret-Key": key, "Accept": "application/json"}
    response = client.get(f"{base}/orders/{reference}", headers=headers)
    response.raise_for_status()
    for shipment in response.json()["order"].get("shipments") or []:
        client.get(f"{base}/shipments/{shipment['reference']}", headers=headers).raise_for_status()
    _done()
