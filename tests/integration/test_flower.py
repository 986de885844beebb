"""Flower for real: a subprocess on the test broker, the admin task called through its API."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.services import free_port
from worker.queries import get_job, wait_for
from worker.runtime import Runtime

ROOT = Path(__file__).resolve().parents[2]


def flower_env(runtime: Runtime, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRINTRELAY_", "FLOWER_"))}
    env.update(PRINTRELAY_REDIS_URL=runtime.settings.redis_url, PRINTRELAY_DATABASE_URL=runtime.settings.database_url, **extra)
    return env


@pytest.fixture
def flower(live: Runtime, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / "flower.log").open("wb")
    env = flower_env(live, PRINTRELAY_FLOWER__BASIC_AUTH="admin:s3cret-pw", PRINTRELAY_FLOWER__PORT=str(port))
    process = subprocess.Popen([sys.executable, "-m", "worker.cli", "flower"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/healthcheck", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, (tmp_path / "flower.log").read_text()
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(15)
    assert "s3cret-pw" not in " ".join(process.args)  # type: ignore[arg-type]


def test_retry_through_flowers_api_with_credentials(live: Runtime, sandbox: Any, flower: str) -> None:
    job = live.intake.enqueue("track_order", "printeers", {"order_reference": "Order_dddddddddddddddddddddddddd"})
    assert wait_for(job.id, timeout=30, runtime=live).state == "failed"
    endpoint = f"{flower}/api/task/async-apply/printrelay.admin.retry_job"
    refused = httpx.post(endpoint, json={"args": [job.id]}, timeout=10)
    assert refused.status_code == 401
    assert len(get_job(job.id, runtime=live).attempts or []) == 1
    accepted = httpx.post(endpoint, json={"args": [job.id]}, auth=("admin", "s3cret-pw"), timeout=10)
    assert accepted.status_code == 200, accepted.text
    deadline = time.monotonic() + 30
    while len((again := get_job(job.id, runtime=live)).attempts or []) < 2 or not again.finished:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert again.events and again.events[0]["action"] == "retry"


def test_flower_does_not_start_without_authentication(live: Runtime) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "worker.cli", "flower"], cwd=ROOT, env=flower_env(live), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "PRINTRELAY_FLOWER__BASIC_AUTH" in done.stderr
