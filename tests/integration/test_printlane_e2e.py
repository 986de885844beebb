"""Printlane end to end: signed pushes through an outage, replays converge, skips, deletes."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.conftest import Sandbox
from worker.jobview import JobInfo
from worker.queries import get_job, wait_for
from worker.runtime import Runtime, reset_runtime

ITEMS = [{"id": 123, "token": "a462a062-7987-4a44-b35f-7009b141fb33", "quantity": 2, "price": 12.5}]


def finished(runtime: Runtime, job: JobInfo, timeout: float = 30) -> JobInfo:
    done = wait_for(job.id, timeout=timeout, runtime=runtime)
    assert done.finished, f"job {job.id} still {done.state} after {timeout} s"
    return get_job(job.id, runtime=runtime)


@pytest.fixture
def store(live: Runtime, sandbox: Sandbox) -> str:
    settings = live.settings.printlane
    assert settings.store_id is not None
    sandbox.printlane_store(settings.store_id, api_key="pl-key-123", api_secret="pl-secret-456", domains=["shop.example"])
    return settings.store_id


def order(order_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "orderId": order_id,
        "email": "john.doe@gmail.com",
        "firstName": "John",
        "lastName": "Doe",
        "status": "Created",
        "lineItems": ITEMS,
        **changes,
    }


def test_a_push_through_an_outage_ends_with_the_order_present(make_settings: Any, live: Runtime, sandbox: Sandbox, store: str) -> None:
    runtime = reset_runtime(make_settings(redis_url=live.settings.redis_url, retry={"submit_order": {"base": 0.3, "cap": 1.0}}))
    sandbox.knobs("printlane", outage_seconds=3)
    job = finished(runtime, runtime.intake.enqueue("submit_order", "printlane", order("ORD-OUT")), timeout=40)
    assert job.state == "succeeded", job.to_dict()
    attempts = job.attempts or []
    assert len(attempts) >= 2 and {a.outcome for a in attempts[:-1]} == {"transient"} and attempts[-1].outcome == "done"
    assert all(a.http_status == 503 for a in attempts[:-1])
    assert "ORD-OUT" in sandbox.printlane_store(store)["orders"]


def test_a_replayed_create_converges_to_the_same_order(live: Runtime, sandbox: Sandbox, store: str) -> None:
    first = finished(live, live.intake.enqueue("submit_order", "printlane", order("ORD-REPLAY")))
    again = finished(live, live.intake.enqueue("submit_order", "printlane", order("ORD-REPLAY", status="Paid")))
    assert first.state == again.state == "succeeded"
    assert (again.attempts or [])[0].note == "the order already existed: updated instead"
    held = sandbox.printlane_store(store)
    assert list(held["orders"]) == ["ORD-REPLAY"] and held["orders"]["ORD-REPLAY"]["status"] == "Paid"


def test_an_order_without_line_items_is_skipped_without_a_request(live: Runtime, sandbox: Sandbox, store: str) -> None:
    job = finished(live, live.intake.enqueue("submit_order", "printlane", order("ORD-EMPTY", lineItems=[])))
    assert job.state == "skipped" and job.result is not None and "no designs" in job.result["skipped"]
    assert not [r for r in sandbox.printlane_store(store)["received"] if r["order"] == "ORD-EMPTY"]


def test_a_delete_skips_the_orders_pending_updates(live: Runtime, sandbox: Sandbox, store: str) -> None:
    assert finished(live, live.intake.enqueue("submit_order", "printlane", order("ORD-DEL"))).state == "succeeded"
    # an update that is still waiting when the delete goes through (Printlane said: come back in a minute)
    sandbox.fault("printlane", kind="status", status=503, retry_after=60, method="POST", path="/orders/ORD-DEL")
    pending = live.intake.enqueue("update_order", "printlane", order("ORD-DEL", status="Shipped"))
    for _ in range(100):
        if get_job(pending.id, attempts=False, runtime=live).state == "waiting":
            break
        time.sleep(0.05)
    assert get_job(pending.id, runtime=live).state == "waiting"
    deleted = finished(live, live.intake.enqueue("cancel_order", "printlane", {"order_id": "ORD-DEL"}))
    assert deleted.state == "succeeded"
    skipped = get_job(pending.id, runtime=live)
    assert skipped.state == "skipped" and skipped.result is not None and "unnecessary" in skipped.result["skipped"]
    assert "ORD-DEL" not in sandbox.printlane_store(store)["orders"]


def test_a_wrong_secret_is_refused(make_settings: Any, live: Runtime, sandbox: Sandbox, store: str) -> None:
    runtime = reset_runtime(make_settings(redis_url=live.settings.redis_url, printlane={"api_secret": "not-the-secret"}))
    job = finished(runtime, runtime.intake.enqueue("submit_order", "printlane", order("ORD-SIG")))
    assert (job.state, job.error and job.error["code"]) == ("failed", "unauthorized")
