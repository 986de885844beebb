"""PrintNow end to end: merged-file downloads (409 + Retry-After), ZIPs stored whole, status updates."""

from __future__ import annotations

import hashlib
import itertools
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tests.conftest import Sandbox
from worker.jobview import JobInfo
from worker.queries import get_job, wait_for
from worker.runtime import Runtime
from worker.store import Artifact


def finished(runtime: Runtime, job: JobInfo, timeout: float = 30) -> JobInfo:
    done = wait_for(job.id, timeout=timeout, runtime=runtime)
    assert done.finished, f"job {job.id} still {done.state} after {timeout} s"
    return get_job(job.id, runtime=runtime)


def test_a_download_that_answers_409_twice_lands_as_a_valid_zip(live: Runtime, sandbox: Sandbox) -> None:
    sandbox.printnow_config(merge_seconds=2.5, retry_after_scale=0.02)  # Retry-After: 2 s for an order
    made = sandbox.printnow_order(items=2)
    order_id = made["order"]["id"]
    job = finished(live, live.intake.enqueue("poll_print_file", "printnow", {"order_id": order_id}))
    assert job.state == "succeeded", job.to_dict()
    attempts = job.attempts or []
    assert [(a.outcome, a.http_status) for a in attempts] == [("pending", 409), ("pending", 409), ("done", 200)]
    for before, after in itertools.pairwise(attempts):
        assert (after.started_at - before.finished_at).total_seconds() >= (before.retry_after or 0)
    artifact = (job.result or {})["artifact"]
    data = Path(artifact["path"]).read_bytes()
    assert artifact["sha256"] == hashlib.sha256(data).hexdigest() == made["sha256"]["order"]
    assert zipfile.ZipFile(artifact["path"]).testzip() is None
    with live.store.transaction() as session:
        rows = list(session.execute(select(Artifact).where(Artifact.job_id == job.id)).scalars())
    assert [(r.path, r.sha256, r.size) for r in rows] == [(artifact["path"], artifact["sha256"], artifact["size"])]


def test_a_download_cut_off_mid_stream_is_retried_and_never_stored_half(make_settings: Any, live: Runtime, sandbox: Sandbox) -> None:
    from worker.runtime import reset_runtime

    runtime = reset_runtime(make_settings(redis_url=live.settings.redis_url, retry={"poll_print_file": {"base": 0.2, "cap": 0.5}}))
    sandbox.printnow_config(merge_seconds=0)
    made = sandbox.printnow_order(items=1)
    item_id = made["order"]["items"][0]["id"]
    sandbox.fault("printnow", kind="truncate", method="GET", path="/download")
    job = finished(runtime, runtime.intake.enqueue("poll_print_file", "printnow", {"order_id": made["order"]["id"], "item_id": item_id}))
    assert job.state == "succeeded", job.to_dict()
    assert [(a.outcome, a.error_code) for a in job.attempts or []] == [("transient", "download_incomplete"), ("done", None)]
    folder = Path((job.result or {})["artifact"]["path"]).parent
    assert [p.name for p in folder.iterdir()] == [f"item-{item_id}.zip"]
    assert (job.result or {})["artifact"]["sha256"] == made["sha256"][f"item-{item_id}"]


def test_status_and_shipped_updates(live: Runtime, sandbox: Sandbox) -> None:
    made = sandbox.printnow_order(items=2)
    order_id, first_item = made["order"]["id"], made["order"]["items"][0]["id"]

    def update(**payload: Any) -> JobInfo:
        return finished(live, live.intake.enqueue("update_status", "printnow", {"order_id": order_id, **payload}))

    assert update(order_status="in production", comments="Sent to press", tracking_number="1Z1").state == "succeeded"
    assert update(order_status="In Production", tracking_number="1Z1").state == "succeeded"  # again: no duplicate number
    assert update(item_id=first_item, shipped=True, tracking_number="1Z2").state == "succeeded"
    held = sandbox.printnow_state(order_id)
    assert held["status"] == "In Production" and held["tracking_numbers"] == ["1Z1", "1Z2"]
    assert [i["status"] for i in held["items"]] == ["Order Shipped", "In Production"]
    tracked = finished(live, live.intake.enqueue("track_order", "printnow", {"order_id": order_id}))
    assert tracked.result is not None and tracked.result["items"][0]["status"] == "Order Shipped"
    missing = update(item_id=999, order_status="In Production")
    assert (missing.state, missing.error and missing.error["code"]) == ("failed", "item_not_found")
    sandbox.printnow_config(no_shipped_status=True)
    refused = update(shipped=True)
    assert (refused.state, refused.error and refused.error["code"]) == ("failed", "no_shipped_status")
