"""Ideal Factory end to end: orders, updates, deletes and print files; real worker and sandbox."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Sandbox
from worker.jobview import JobInfo
from worker.queries import get_job, wait_for
from worker.runtime import Runtime, reset_runtime


def finished(runtime: Runtime, job: JobInfo, timeout: float = 30) -> JobInfo:
    done = wait_for(job.id, timeout=timeout, runtime=runtime)
    assert done.finished, f"job {job.id} still {done.state} after {timeout} s"
    return get_job(job.id, runtime=runtime)


def order(*item_ids: str, **extra: Any) -> dict[str, Any]:
    items = [
        {
            "ecommerce_order_item_id": i,
            "ecommerce_variant_id": "V-1",
            "quantity": 1,
            "template_config": {"text": f"design {i}"},
            "thumbnails": [f"https://cdn.test/{i}.png"],
        }
        for i in item_ids
    ]
    return {
        "ecommerce_order_id": f"ORD-{item_ids[0]}",
        "items": items,
        "create_print_files": True,
        "shippings": [{"code": "STANDARD", "shipping_price": 4.95}],
        **extra,
    }


@pytest.fixture
def fast(make_settings: Any, live: Runtime, sandbox: Sandbox) -> Runtime:
    sandbox.idealfactory_config(step_seconds=0.5)
    return reset_runtime(make_settings(redis_url=live.settings.redis_url, retry={"poll_print_file": {"poll_interval": 0.3}}))


def test_order_with_print_files_then_every_item_polled_to_ready(fast: Runtime, sandbox: Sandbox, secret_key: str) -> None:
    a, b = f"A-{secret_key[-6:]}", f"B-{secret_key[-6:]}"
    placed = finished(fast, fast.intake.enqueue("submit_order", "idealfactory", order(a, b)))
    assert placed.state == "succeeded", placed.to_dict()
    assert placed.result is not None and set(placed.result["item_uids"]) == {a, b}
    polls = [fast.intake.enqueue("poll_print_file", "idealfactory", {"ecommerce_order_item_id": i, "download": i == a}) for i in (a, b)]
    done = [finished(fast, job) for job in polls]
    assert [j.state for j in done] == ["succeeded", "succeeded"]
    assert all(j.result is not None and j.result["status"] == "ready" and j.result["url"].endswith(".pdf") for j in done)
    assert {a.outcome for a in done[0].attempts or []} <= {"pending", "done"} and len(done[0].attempts or []) > 1
    artifact = (done[0].result or {})["artifact"]
    data = Path(artifact["path"]).read_bytes()
    assert data.startswith(b"%PDF") and artifact["size"] == len(data) and artifact["sha256"] == hashlib.sha256(data).hexdigest()


def test_a_failed_print_file(fast: Runtime, sandbox: Sandbox, secret_key: str) -> None:
    item = f"F-{secret_key[-6:]}"
    sandbox.idealfactory_config(fail_items=[item])
    finished(fast, fast.intake.enqueue("submit_order", "idealfactory", order(item)))
    polled = finished(fast, fast.intake.enqueue("poll_print_file", "idealfactory", {"ecommerce_order_item_id": item}))
    assert (polled.state, polled.error and polled.error["code"]) == ("failed", "processingfailed")


def test_update_then_delete(fast: Runtime, sandbox: Sandbox, secret_key: str) -> None:
    placed = finished(fast, fast.intake.enqueue("submit_order", "idealfactory", order(f"U-{secret_key[-6:]}")))
    assert placed.result is not None
    uid = placed.result["order_uid"]
    updated = finished(
        fast,
        fast.intake.enqueue(
            "update_order", "idealfactory", {"order_uid": uid, "note": "Updated shipping instructions", "total_price": 69.98}
        ),
    )
    assert (
        updated.state == "succeeded" and updated.result is not None and updated.result["order"]["note"] == "Updated shipping instructions"
    )
    tracked = finished(fast, fast.intake.enqueue("track_order", "idealfactory", {"order_uid": uid}))
    assert tracked.result is not None and tracked.result["order"]["total_price"] == 69.98
    assert finished(fast, fast.intake.enqueue("cancel_order", "idealfactory", {"order_uid": uid})).state == "succeeded"
    gone = finished(fast, fast.intake.enqueue("track_order", "idealfactory", {"order_uid": uid}))
    assert (gone.state, gone.error and gone.error["code"]) == ("failed", "order_not_found")
    assert uid not in sandbox.idealfactory_client()["orders"]


def test_a_store_that_is_not_ours_is_forbidden(fast: Runtime, sandbox: Sandbox, secret_key: str) -> None:
    sandbox.idealfactory_config(forbidden_stores=["someone-else"])
    job = finished(fast, fast.intake.enqueue("submit_order", "idealfactory", order(f"X-{secret_key[-6:]}", store_id="someone-else")))
    assert (job.state, job.error and job.error["code"]) == ("failed", "forbidden")
