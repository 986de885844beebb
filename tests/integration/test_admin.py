"""Operators' actions, through the CLI and through the admin Celery tasks; each leaves a trace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.conftest import Sandbox
from worker.jobview import JobInfo
from worker.queries import get_job, wait_for
from worker.runtime import Runtime

STORE = "Store_9jmn3dewwvy13rv12k7aannqzy"
PRODUCT = "Product_4j8k2m5n7p9q1r3s6t8v0w2x4y"


def cli(runtime: Runtime, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRINTRELAY_")}
    env.update(PRINTRELAY_REDIS_URL=runtime.settings.redis_url, PRINTRELAY_DATABASE_URL=runtime.settings.database_url)
    return subprocess.run([sys.executable, "-m", "worker.cli", *args], env=env, capture_output=True, text=True, timeout=60)


def finished(runtime: Runtime, job_id: str, timeout: float = 30) -> JobInfo:
    done = wait_for(job_id, timeout=timeout, runtime=runtime)
    assert done.finished, f"job {job_id} still {done.state}"
    return get_job(job_id, runtime=runtime)


def until(runtime: Runtime, job_id: str, predicate: Any, timeout: float = 30) -> JobInfo:
    deadline = time.monotonic() + timeout
    while not predicate(job := get_job(job_id, runtime=runtime)):
        assert time.monotonic() < deadline, job.to_dict()
        time.sleep(0.05)
    return job


def order(reference: str) -> dict[str, Any]:
    return {
        "order": {
            "storeReference": STORE,
            "shippingKind": "combined",
            "orderlines": [{"productReference": PRODUCT, "imageReference": reference, "quantity": 1}],
        }
    }


def test_retry_through_the_cli_continues_the_attempt_numbers(live: Runtime, sandbox: Sandbox) -> None:
    job = live.intake.enqueue("submit_order", "printeers", order("Image_aaaaaaaaaaaaaaaaaaaaaaaaaa"))
    assert finished(live, job.id).state == "failed"
    done = cli(live, "jobs", "retry", job.id, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"job_id": job.id, "action": "retry", "state": "queued"}
    again = until(live, job.id, lambda j: len(j.attempts or []) == 2 and j.finished)
    assert [a.number for a in again.attempts or []] == [1, 2] and again.state == "failed"
    assert again.events and again.events[0]["action"] == "retry" and again.events[0]["actor"].startswith("cli:")
    shown = cli(live, "jobs", "show", job.id)
    assert "retry by cli:" in shown.stdout
    refused = cli(live, "jobs", "retry", "no-such-job")
    assert refused.returncode == 2 and "job_not_found" in refused.stderr
    # the 8 characters the tables show are enough, and the answer is a sentence
    by_prefix = cli(live, "jobs", "retry", job.id[:8])
    assert by_prefix.returncode == 0, by_prefix.stderr
    assert by_prefix.stdout.strip() == f"retry: job {job.id} is now queued"


def test_retry_through_the_celery_task(live: Runtime, sandbox: Sandbox, celery_app: Any) -> None:
    job = live.intake.enqueue("submit_order", "printeers", order("Image_bbbbbbbbbbbbbbbbbbbbbbbbbb"))
    assert finished(live, job.id).state == "failed"
    celery_app.send_task("printrelay.admin.retry_job", args=[job.id])
    again = until(live, job.id, lambda j: len(j.attempts or []) == 2 and j.finished)
    assert again.events and again.events[0]["actor"].startswith("task from ")


def test_replay_a_placed_order_only_with_force(live: Runtime, sandbox: Sandbox, image_file: Path, celery_app: Any) -> None:
    upload = finished(live, live.intake.enqueue("upload_image", "printeers", {"source": str(image_file)}).id)
    placed = finished(live, live.intake.enqueue("submit_order", "printeers", order((upload.result or {})["image_reference"])).id)
    assert placed.state == "succeeded"
    refused = cli(live, "jobs", "replay", placed.id)
    assert refused.returncode == 2 and "not_allowed" in refused.stderr and "--force" in refused.stderr
    assert cli(live, "jobs", "replay", placed.id, "--force").returncode == 0
    replayed = until(live, placed.id, lambda j: len(j.attempts or []) == 2 and j.finished)
    assert replayed.state == "succeeded" and sandbox.org()["orders_received"] == 2
    # an idempotent job replays without force, through the task too
    celery_app.send_task("printrelay.admin.replay_job", args=[upload.id])
    assert len(until(live, upload.id, lambda j: len(j.attempts or []) == 2 and j.finished).attempts or []) == 2


def test_cancel_a_waiting_job_and_refuse_a_finished_one(live: Runtime, sandbox: Sandbox, celery_app: Any) -> None:
    sandbox.fault(kind="status", status=503, retry_after=120, method="GET", path="/orders/Order_cccccccccccccccccccccccccc")
    job = live.intake.enqueue("track_order", "printeers", {"order_reference": "Order_cccccccccccccccccccccccccc"})
    until(live, job.id, lambda j: j.state == "waiting")
    done = cli(live, "jobs", "cancel", job.id, "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["state"] == "canceled"
    canceled = get_job(job.id, runtime=live)
    assert canceled.state == "canceled" and canceled.events and canceled.events[-1]["action"] == "cancel"
    again = cli(live, "jobs", "cancel", job.id)
    assert again.returncode == 2 and "not_allowed" in again.stderr
    # a canceled job can be retried; it then fails for real (no such order)
    celery_app.send_task("printrelay.admin.retry_job", args=[job.id])
    assert until(live, job.id, lambda j: j.state == "failed").error == {
        "code": "order_not_found",
        "message": "Order Order_cccccccccccccccccccccccccc not found",
    }


def test_retry_failed_with_filters_and_a_dry_run(live: Runtime, sandbox: Sandbox, celery_app: Any) -> None:
    failing = [live.intake.enqueue("submit_order", "printeers", order(f"Image_{c * 26}")).id for c in "def"]
    for job_id in failing:
        assert finished(live, job_id).state == "failed"
    counted = cli(
        live,
        "jobs",
        "retry-failed",
        "--provider",
        "printeers",
        "--error-code",
        "unknown_image_reference",
        "--since",
        "10m",
        "--dry-run",
        "--json",
    )
    result = json.loads(counted.stdout)
    assert result["dry_run"] and set(failing) <= set(result["job_ids"])
    table = cli(live, "jobs", "retry-failed", "--provider", "printeers", "--error-code", "unknown_image_reference", "--dry-run")
    assert table.returncode == 0 and table.stdout.startswith(f"would retry {result['count']} failed job")
    assert all(job_id[:8] in table.stdout for job_id in failing) and "unknown_image_reference" in table.stdout
    assert all(len(get_job(j, runtime=live).attempts or []) == 1 for j in failing)  # nothing ran
    none = json.loads(cli(live, "jobs", "retry-failed", "--error-code", "no_such_code", "--json").stdout)
    assert none["count"] == 0
    celery_app.send_task(
        "printrelay.admin.retry_failed", kwargs={"provider": "printeers", "error_code": "unknown_image_reference", "since": "10m"}
    )
    for job_id in failing:
        assert len(until(live, job_id, lambda j: len(j.attempts or []) == 2 and j.finished).attempts or []) == 2
