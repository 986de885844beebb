"""A scrape of ``printrelay metrics`` after some jobs shows the right counts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import RecordingPublisher
from tests.services import free_port
from worker.runtime import reset_runtime
from worker.store import Store

ROOT = Path(__file__).resolve().parents[2]


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    samples = {}
    for family in text_string_to_metric_families(httpx.get(url, timeout=10).text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_a_scrape_after_some_jobs(make_settings: Any, sandbox: Any, image_file: Path, tmp_path: Path, private_redis_url: str) -> None:
    database = f"sqlite:///{tmp_path / 'metrics.db'}"
    Store(database).upgrade()
    runtime = reset_runtime(make_settings(database_url=database, redis_url=private_redis_url), RecordingPublisher())
    failed = [runtime.intake.enqueue("track_order", "printeers", {"order_reference": f"Order_{c * 26}"}).id for c in "xyz"]
    uploads = [runtime.intake.enqueue("upload_image", "printeers", {"source": str(image_file)}).id for _ in range(2)]
    queued = runtime.intake.enqueue("track_order", "printeers", {"order_reference": "Order_" + "q" * 26}).id
    for job_id in failed + uploads:
        runtime.runner.run(job_id)
    # a real 429 (it freezes the bucket for 5 s), then a job that must wait for a slot
    sandbox.fault(kind="throttle", retry_after=5, method="GET", path="/orders/")
    throttled = runtime.intake.enqueue("track_order", "printeers", {"order_reference": "Order_" + "t" * 26}).id
    runtime.runner.run(throttled)
    behind = runtime.intake.enqueue("track_order", "printeers", {"order_reference": "Order_" + "b" * 26}).id
    runtime.runner.run(behind)

    runtime.counters.flush()  # what a worker adds to Redis within a second (worker.metrics.FLUSH_SECONDS)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRINTRELAY_")}
    env.update(PRINTRELAY_DATABASE_URL=database, PRINTRELAY_REDIS_URL=private_redis_url)
    server = subprocess.Popen(
        [sys.executable, "-m", "worker.cli", "metrics", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        deadline = time.monotonic() + 20
        while True:
            try:
                samples = scrape(url)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(10)

    def jobs(state: str, kind: str) -> float:
        return samples.get(("printrelay_jobs", (("kind", kind), ("provider", "printeers"), ("state", state))), 0.0)

    assert jobs("failed", "track_order") == 3
    assert jobs("succeeded", "upload_image") == 2
    assert jobs("queued", "track_order") == 1 and queued
    assert jobs("waiting", "track_order") == 2  # the throttled one and the one behind it
    assert samples[("printrelay_attempts_total", (("outcome", "permanent"), ("provider", "printeers")))] == 3
    assert samples[("printrelay_attempts_total", (("outcome", "done"), ("provider", "printeers")))] == 2
    assert samples[("printrelay_attempts_total", (("outcome", "throttled"), ("provider", "printeers")))] == 1
    assert samples[("printrelay_queue_wait_seconds_count", (("provider", "printeers"),))] == 7
    assert samples[("printrelay_throttled_total", (("provider", "printeers"),))] == 1
    assert samples[("printrelay_bucket_waits_total", (("provider", "printeers"),))] == 1
    # per provider account, as `printrelay providers` shows them
    account = (("account", "default"), ("provider", "printeers"))
    assert samples[("printrelay_circuit_open", account)] == 0
    assert samples[("printrelay_bucket_frozen_seconds", (*account[:1], ("bucket", "default"), account[1]))] > 0  # the 429's 5 s
    assert ("printrelay_bucket_available", (*account[:1], ("bucket", "uploads"), account[1])) in samples
