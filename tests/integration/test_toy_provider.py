"""A sixth provider joins by its own module alone (tests/integration/toy_provider.py).

Real processes, none of which names the toy anywhere in printrelay's code: the sandbox (which
mounts the toy's stand-in), a Celery worker (which consumes the toy's queue), and the CLI (which
takes its settings, validates its payload and shows its job). Only ``PRINTRELAY_PLUGINS`` says
where the toy is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sandbox.server import wait_healthy
from sandbox.services import free_port
from worker.store import Store

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = "tests.integration.toy_provider"


@pytest.fixture
def toy_env(private_redis_url: str, tmp_path: Path) -> dict[str, str]:
    database = f"sqlite:///{tmp_path / 'toy.db'}"
    Store(database).upgrade()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRINTRELAY_")}
    env.update(PRINTRELAY_PLUGINS=PLUGIN, PRINTRELAY_REDIS_URL=private_redis_url, PRINTRELAY_DATABASE_URL=database)
    return env


@pytest.fixture
def toy_sandbox(toy_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    port = free_port()
    with (tmp_path / "sandbox.log").open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "sandbox", "--port", str(port)], cwd=ROOT, env=toy_env, stdout=log, stderr=log)
    root = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(root, timeout=20)
        yield root
    finally:
        process.terminate()
        process.wait(timeout=10)


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "worker.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_a_toy_provider_runs_a_job_end_to_end_through_a_real_worker(toy_env: dict[str, str], toy_sandbox: str, tmp_path: Path) -> None:
    health = httpx.get(f"{toy_sandbox}/_sandbox/health").json()
    assert health["providers"]["toy"] == f"{toy_sandbox}/toy/v1"  # the sandbox mounted it
    env = {**toy_env, "PRINTRELAY_TOY__BASE_URL": f"{toy_sandbox}/toy/v1", "PRINTRELAY_TOY__TOKEN": "toy-secret-1"}

    help_text = cli(env, "enqueue", "--help").stdout
    assert "toy" in help_text  # the CLI's help lists it
    refused = cli(env, "enqueue", "track_order", "--provider", "toy", "--payload", "{}")
    assert refused.returncode == 2 and "order_id" in refused.stderr  # its payload rules apply
    assert "unsupported_kind" in cli(env, "enqueue", "submit_order", "--provider", "toy", "--payload", "{}").stderr

    with (tmp_path / "worker.log").open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "worker.cli", "worker", "--concurrency", "2"], cwd=ROOT, env=env, stdout=log, stderr=log
        )
    try:
        enqueued = cli(env, "enqueue", "track_order", "--provider", "toy", "--payload", json.dumps({"order_id": "T-1"}), "--json")
        assert enqueued.returncode == 0, enqueued.stderr
        job_id = json.loads(enqueued.stdout)["id"]
        deadline = time.monotonic() + 60
        while True:
            shown = json.loads(cli(env, "jobs", "show", job_id, "--json").stdout)
            if shown["state"] in ("succeeded", "failed") or time.monotonic() > deadline:
                break
            time.sleep(0.3)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert shown["state"] == "succeeded", (shown, (tmp_path / "worker.log").read_text()[-3000:])
    assert shown["result"] == {"order_id": "T-1", "status": "shipped"}
    assert [(a["outcome"], a["http_status"]) for a in shown["attempts"]] == [("done", 200)]
    assert httpx.get(f"{toy_sandbox}/_sandbox/toy/lookups").json() == {"lookups": ["T-1"]}
    assert "printrelay.toy" in (tmp_path / "worker.log").read_text()  # the worker consumed its queue
    assert "toy-secret-1" not in (tmp_path / "worker.log").read_text()
