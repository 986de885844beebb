"""Flows: uploads and the order that uses them, in one call; dependencies release each other."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RecordingPublisher, Sandbox
from worker import maintenance
from worker.admin import Admin
from worker.flows import enqueue_printapi_order_with_files, enqueue_with_images
from worker.jobview import JobInfo
from worker.queries import get_job, wait_for
from worker.runtime import Runtime, reset_runtime
from worker.store import Job

STORE = "Store_9jmn3dewwvy13rv12k7aannqzy"
PRODUCT = "Product_4j8k2m5n7p9q1r3s6t8v0w2x4y"


def finished(runtime: Runtime, job_id: str, timeout: float = 30) -> JobInfo:
    done = wait_for(job_id, timeout=timeout, runtime=runtime)
    assert done.finished, f"job {job_id} still {done.state}"
    return get_job(job_id, runtime=runtime)


def two_line_order() -> dict[str, Any]:
    lines = [{"productReference": PRODUCT, "imageReference": {"$image": name}, "quantity": 1} for name in ("front", "back")]
    return {"order": {"storeReference": STORE, "shippingKind": "combined", "orderlines": lines}}


def test_an_order_with_two_images(live: Runtime, sandbox: Sandbox, image_file: Path, tmp_path: Path) -> None:
    other = tmp_path / "back.png"
    other.write_bytes(sandbox.file("other.png"))
    order, uploads = enqueue_with_images(
        live.intake, "submit_order", "printeers", two_line_order(), {"front": str(image_file), "back": str(other)}
    )
    assert order.state in ("blocked", "queued")
    placed = finished(live, order.id)
    assert placed.state == "succeeded", placed.to_dict()
    references = [finished(live, uploads[name].id).result["image_reference"] for name in ("front", "back")]  # type: ignore[index]
    assert len(set(references)) == 2
    held = sandbox.org()["orders"][(placed.result or {})["order_reference"]]
    assert [line["imageReference"] for line in held["orderlines"]] == references


def test_a_failed_upload_fails_the_order_and_a_later_success_releases_it(live: Runtime, sandbox: Sandbox, image_file: Path) -> None:
    gif = f"{sandbox.root}/_sandbox/files/not-an-image.gif"  # a URL: its format is only found out when the upload runs
    order, uploads = enqueue_with_images(
        live.intake, "submit_order", "printeers", two_line_order(), {"front": str(image_file), "back": gif}
    )
    failed = finished(live, order.id)
    assert failed.state == "failed" and failed.error is not None
    assert failed.error["code"] == "dependency_failed" and uploads["back"].id in (failed.error["message"] or "")
    assert sandbox.org()["orders_received"] == 0


def test_retrying_a_failed_upload_lets_the_order_go_on(live: Runtime, sandbox: Sandbox, image_file: Path) -> None:
    sandbox.fault(kind="status", status=400, method="POST", path="/images")
    upload = live.intake.enqueue("upload_image", "printeers", {"source": str(image_file)})
    order = live.intake.enqueue("submit_order", "printeers", order_using(upload.id))
    assert order.state == "blocked"
    assert finished(live, upload.id).state == "failed"
    assert (failed := finished(live, order.id)).state == "failed" and failed.error and failed.error["code"] == "dependency_failed"
    Admin(live).retry(upload.id, actor="test")
    assert finished(live, upload.id).state == "succeeded"
    deadline = time.monotonic() + 30
    while (placed := get_job(order.id, runtime=live)).state != "succeeded" and time.monotonic() < deadline:
        time.sleep(0.05)  # released by the upload's success, then placed
    assert placed.state == "succeeded", placed.to_dict()
    reference = finished(live, upload.id).result["image_reference"]  # type: ignore[index]
    held = sandbox.org()["orders"][(placed.result or {})["order_reference"]]
    assert held["orderlines"][0]["imageReference"] == reference


def order_using(upload_id: str) -> dict[str, Any]:
    line = {"productReference": PRODUCT, "imageReference": {"$job": upload_id}, "quantity": 1}
    return {"order": {"storeReference": STORE, "shippingKind": "combined", "orderlines": [line]}}


def test_printapi_order_then_uploads_then_polling(make_settings: Any, live: Runtime, sandbox: Sandbox, tmp_path: Path) -> None:
    runtime = reset_runtime(make_settings(redis_url=live.settings.redis_url, retry={"poll_print_file": {"poll_interval": 0.3}}))
    pdf = tmp_path / "poster.pdf"
    pdf.write_bytes(sandbox.file("sample.pdf"))
    order = {
        "items": [{"productId": "poster_a3_sta", "quantity": 1}, {"productId": "poster_a2_sta", "quantity": 2}],
        "shipping": {"address": {"name": "Print API", "line1": "Osloweg 75", "postCode": "9700 GE", "city": "Groningen", "country": "NL"}},
    }
    submit, uploads, poll = enqueue_printapi_order_with_files(runtime.intake, order, {0: str(pdf), 1: str(pdf)})
    assert submit.state == "queued" and [u.state for u in uploads] == ["blocked", "blocked"]
    polled = finished(runtime, poll.id, timeout=40)
    assert polled.state == "succeeded", polled.to_dict()
    assert len((polled.result or {})["files"]) == 2
    assert all(finished(runtime, u.id).state == "succeeded" for u in uploads)


def test_the_cli_uploads_images_first(live: Runtime, sandbox: Sandbox, image_file: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRINTRELAY_")}
    env.update(PRINTRELAY_REDIS_URL=live.settings.redis_url, PRINTRELAY_DATABASE_URL=live.settings.database_url)
    payload = {
        "order": {
            "storeReference": STORE,
            "shippingKind": "combined",
            "orderlines": [{"productReference": PRODUCT, "imageReference": {"$image": "design"}, "quantity": 3}],
        }
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "worker.cli",
            "enqueue",
            "submit_order",
            "--provider",
            "printeers",
            "--payload",
            json.dumps(payload),
            "--image",
            f"design={image_file}",
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "design: upload_image" in done.stderr
    job = json.loads(done.stdout)
    assert finished(live, job["id"]).state == "succeeded"
    unknown = subprocess.run(
        [
            sys.executable,
            "-m",
            "worker.cli",
            "enqueue",
            "submit_order",
            "--provider",
            "printeers",
            "--payload",
            json.dumps(payload),
            "--image",
            f"other={image_file}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unknown.returncode == 2 and "'design' is not among the images" in unknown.stderr


def test_submit_update_cancel_in_a_burst_arrive_in_that_order(live: Runtime, sandbox: Sandbox) -> None:
    settings = live.settings.printlane
    assert settings.store_id is not None
    sandbox.printlane_store(settings.store_id, api_key="pl-key-123", api_secret="pl-secret-456", domains=["shop.example"])
    sandbox.knobs("printlane", latency=0.2)  # slow enough that an unordered run would overtake
    items = [{"id": 7, "token": "tok-7", "quantity": 1, "price": 9.5}]
    order = {"orderId": "ORD-BURST", "lineItems": items, "status": "Created"}
    jobs = [
        live.intake.enqueue("submit_order", "printlane", order),
        live.intake.enqueue("update_order", "printlane", {**order, "status": "Paid"}),
        live.intake.enqueue("cancel_order", "printlane", {"order_id": "ORD-BURST"}),
    ]
    assert [j.state for j in jobs] == ["queued", "blocked", "blocked"]
    ends = [finished(live, j.id) for j in jobs]
    assert [j.state for j in ends] == ["succeeded", "succeeded", "succeeded"]
    received = [
        (r["method"], r["update"] if r["method"] == "POST" else None) for r in sandbox.printlane_store(settings.store_id)["received"]
    ]
    assert received == [("POST", False), ("POST", True), ("DELETE", None)]


def test_sequence_keys_default_to_the_provider_order() -> None:
    from worker.adapters import ADAPTERS

    assert ADAPTERS["printeers"].sequence_key("cancel_order", {"order_reference": "Order_x"}) == "order_reference:Order_x"
    assert ADAPTERS["idealfactory"].sequence_key("update_order", {"order_uid": "U1"}) == "order_uid:U1"
    assert ADAPTERS["printnow"].sequence_key("update_status", {"order_id": 5001}) == "order_id:5001"
    assert ADAPTERS["printapi"].sequence_key("submit_order", {"id": "my-1"}) == "order_id:my-1"
    assert ADAPTERS["printeers"].sequence_key("submit_order", {"order": {}}) is None


@pytest.fixture
def cancel() -> dict[str, Any]:
    """A cancel of an order of the test's own: jobs other tests left on a shared order
    reference would otherwise hold this test's first job back."""
    return {"order_reference": f"Order_{uuid.uuid4().hex[:26]}", "orderlines": [{"index": 1, "canceledQuantity": 1}]}


def end(runtime: Runtime, job_id: str, state: str) -> None:
    """Finish a job by hand, as a worker's record would, and release what waits for it."""
    with runtime.store.transaction() as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.state = state
    runtime.runner.release_dependents(job_id)


def test_a_refused_call_does_not_hold_up_the_next_one_on_the_order(
    cancel: dict[str, Any], runtime: Runtime, publisher: RecordingPublisher
) -> None:
    first = runtime.intake.enqueue("cancel_order", "printeers", cancel)
    second = runtime.intake.enqueue("cancel_order", "printeers", cancel)
    assert (first.state, second.state) == ("queued", "blocked")
    end(runtime, first.id, "failed")
    assert get_job(second.id, runtime=runtime).state == "queued"
    assert publisher.published[-1][0] == second.id


def test_a_call_under_review_holds_the_order_until_an_operator_decides(
    cancel: dict[str, Any], runtime: Runtime, publisher: RecordingPublisher
) -> None:
    first = runtime.intake.enqueue("cancel_order", "printeers", cancel)
    second = runtime.intake.enqueue("cancel_order", "printeers", cancel)
    end(runtime, first.id, "needs_review")
    assert get_job(second.id, runtime=runtime).state == "blocked"
    third = runtime.intake.enqueue("cancel_order", "printeers", cancel)
    assert third.state == "blocked"  # queued behind the second, which waits for the review
    Admin(runtime).cancel(first.id, actor="operator")
    assert get_job(second.id, runtime=runtime).state == "queued"
    assert get_job(third.id, runtime=runtime).state == "blocked"


def test_beat_settles_a_job_whose_dependency_ended_unnoticed(
    cancel: dict[str, Any], runtime: Runtime, publisher: RecordingPublisher
) -> None:
    first = runtime.intake.enqueue("cancel_order", "printeers", cancel)
    second = runtime.intake.enqueue("cancel_order", "printeers", cancel)
    with runtime.store.transaction() as session:  # ended without releasing: the enqueue race
        job = session.get(Job, first.id)
        assert job is not None
        job.state = "succeeded"
    assert maintenance.release_stuck(runtime) == 1
    assert get_job(second.id, runtime=runtime).state == "queued"
    assert maintenance.release_stuck(runtime) == 0


def test_a_delete_skips_an_update_waiting_out_a_retry_but_not_one_about_to_run(runtime: Runtime, publisher: RecordingPublisher) -> None:
    order = {"orderId": "ORD-TAIL", "lineItems": [{"id": 7, "token": "tok-7", "quantity": 1, "price": 9.5}]}
    submit = runtime.intake.enqueue("submit_order", "printlane", order)
    retrying = runtime.intake.enqueue("update_order", "printlane", {**order, "status": "Paid"})
    behind = runtime.intake.enqueue("update_order", "printlane", {**order, "status": "Shipped"})
    end(runtime, submit.id, "succeeded")
    with runtime.store.transaction() as session:  # Printlane said "come back in an hour"
        job = session.get(Job, retrying.id)
        assert job is not None and job.state == "queued"
        job.state, job.next_attempt_at = "waiting", job.created_at + timedelta(hours=1)
    delete = runtime.intake.enqueue("cancel_order", "printlane", {"order_id": "ORD-TAIL"})
    skipped = get_job(retrying.id, runtime=runtime)
    assert skipped.state == "skipped" and delete.id in (skipped.result or {})["skipped"]
    assert get_job(behind.id, runtime=runtime).state == "queued"  # about to run: goes before the delete
    assert delete.state == "blocked"
    end(runtime, behind.id, "succeeded")
    assert get_job(delete.id, runtime=runtime).state == "queued"


def test_a_failure_runs_down_a_chain_of_dependents_at_once(runtime: Runtime, sandbox: Sandbox, image_file: Path) -> None:
    sandbox.fault(kind="status", status=400, method="POST", path="/images")
    upload = runtime.intake.enqueue("upload_image", "printeers", {"source": str(image_file)})
    order = runtime.intake.enqueue("submit_order", "printeers", order_using(upload.id))
    track = runtime.intake.enqueue("track_order", "printeers", {"order_reference": {"$job": order.id, "path": "order_reference"}})
    assert runtime.runner.run(upload.id) == "failed"
    ends = [get_job(job.id, runtime=runtime) for job in (order, track)]
    assert [(job.state, (job.error or {}).get("code")) for job in ends] == [("failed", "dependency_failed")] * 2
    assert order.id in (ends[1].error or {}).get("message", "")  # names the job it waited for
