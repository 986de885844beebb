"""Printeers end to end: real Redis, a real Celery worker, the sandbox over HTTP, SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import Sandbox
from worker.jobview import JobInfo
from worker.queries import get_job, wait_for
from worker.runtime import Runtime, reset_runtime

STORE = "Store_9jmn3dewwvy13rv12k7aannqzy"
PRODUCT = "Product_4j8k2m5n7p9q1r3s6t8v0w2x4y"


def order_payload(image_reference: Any, quantity: int = 3, **changes: Any) -> dict[str, Any]:
    order = {
        "storeReference": STORE,
        "shippingKind": "combined",
        "orderlines": [{"productReference": PRODUCT, "imageReference": image_reference, "quantity": quantity}],
    }
    return {"order": {**order, **changes}}


def finished(runtime: Runtime, job: JobInfo, timeout: float = 30) -> JobInfo:
    done = wait_for(job.id, timeout=timeout, runtime=runtime)
    assert done.finished, f"job {job.id} still {done.state} after {timeout} s"
    return get_job(job.id, runtime=runtime)


def upload(live: Runtime, path: Path) -> str:
    job = finished(live, live.intake.enqueue("upload_image", "printeers", {"source": str(path)}))
    assert job.state == "succeeded", job.to_dict()
    assert job.result is not None
    return str(job.result["image_reference"])


def test_upload_then_order_then_track(live: Runtime, sandbox: Sandbox, image_file: Path) -> None:
    sandbox.printeers_config(order_step_seconds=60)
    reference = upload(live, image_file)
    assert reference.startswith("Image_")

    placed = finished(live, live.intake.enqueue("submit_order", "printeers", order_payload(reference)))
    assert placed.state == "succeeded"
    assert placed.result is not None and placed.result["order_reference"].startswith("Order_")
    assert [(a.outcome, a.http_status) for a in placed.attempts or []] == [("done", 201)]

    tracked = finished(live, live.intake.enqueue("track_order", "printeers", {"order_reference": placed.result["order_reference"]}))
    assert tracked.state == "succeeded" and tracked.result is not None
    assert tracked.result["status"]["code"] == "created"
    assert tracked.result["orderlines"][0]["imageReference"] == reference
    assert list(sandbox.org()["orders"]) == [placed.result["order_reference"]]


def test_the_same_image_twice_is_uploaded_once(live: Runtime, sandbox: Sandbox, image_file: Path, tmp_path: Path) -> None:
    copy = tmp_path / "same-design-other-name.png"
    copy.write_bytes(image_file.read_bytes())
    first, second = upload(live, image_file), upload(live, copy)
    assert first == second
    assert sandbox.org()["uploads_received"] == 1


def test_a_provider_error_fails_the_job_with_its_code(live: Runtime, sandbox: Sandbox) -> None:
    job = finished(live, live.intake.enqueue("submit_order", "printeers", order_payload("Image_aaaaaaaaaaaaaaaaaaaaaaaaaa")))
    assert job.state == "failed"
    assert job.error is not None and job.error["code"] == "unknown_image_reference"
    assert [(a.outcome, a.http_status) for a in job.attempts or []] == [("permanent", 400)]


def test_a_duplicate_message_runs_nothing_twice(live: Runtime, sandbox: Sandbox, image_file: Path) -> None:
    reference = upload(live, image_file)
    sandbox.knobs(latency=0.3)
    job = live.intake.enqueue("submit_order", "printeers", order_payload(reference))
    for _ in range(3):  # the same message, delivered again while the first runs
        live.publisher.publish(job.id, "submit_order", "printeers")
    done = finished(live, job)
    assert done.state == "succeeded" and len(done.attempts or []) == 1
    assert sandbox.org()["orders_received"] == 1


def test_a_transient_error_is_retried_and_every_attempt_recorded(
    make_settings: Any, live: Runtime, sandbox: Sandbox, image_file: Path
) -> None:
    runtime = reset_runtime(make_settings(redis_url=live.settings.redis_url, retry={"submit_order": {"base": 0.2, "cap": 0.4}}))
    reference = upload(runtime, image_file)
    sandbox.fault(kind="status", status=500, method="POST", path="/orders")
    job = finished(runtime, runtime.intake.enqueue("submit_order", "printeers", order_payload(reference)))
    assert job.state == "succeeded"
    assert [(a.outcome, a.http_status, a.error_code) for a in job.attempts or []] == [("transient", 500, "http_500"), ("done", 201, None)]


def test_a_429_is_waited_out_exactly(live: Runtime, sandbox: Sandbox, image_file: Path) -> None:
    reference = upload(live, image_file)
    sandbox.fault(kind="throttle", retry_after=2, method="POST", path="/orders")
    job = finished(live, live.intake.enqueue("submit_order", "printeers", order_payload(reference)))
    first, second = job.attempts or []
    assert (first.outcome, first.http_status, first.retry_after) == ("throttled", 429, 2.0)
    assert second.outcome == "done"
    gap = (second.started_at - first.finished_at).total_seconds()
    assert 2.0 <= gap < 3.0, gap


def test_a_lost_answer_to_a_submit_is_not_repeated(make_settings: Any, live: Runtime, sandbox: Sandbox, image_file: Path) -> None:
    runtime = reset_runtime(make_settings(redis_url=live.settings.redis_url, printeers={"read_timeout": 0.5}))
    reference = upload(runtime, image_file)
    sandbox.fault(kind="hang", seconds=1.5, method="POST", path="/orders")
    job = finished(runtime, runtime.intake.enqueue("submit_order", "printeers", order_payload(reference)))
    assert job.state == "needs_review"
    assert job.error is not None and job.error["code"] == "timeout"
    assert [a.outcome for a in job.attempts or []] == ["ambiguous"]
    assert sandbox.org()["orders_received"] == 1


def test_cancel_with_absolute_totals(live: Runtime, sandbox: Sandbox, image_file: Path) -> None:
    sandbox.printeers_config(order_step_seconds=60)
    reference = upload(live, image_file)
    order = finished(live, live.intake.enqueue("submit_order", "printeers", order_payload(reference, quantity=5)))
    assert order.result is not None
    ref = order.result["order_reference"]

    def cancel(total: int) -> JobInfo:
        payload = {"order_reference": ref, "orderlines": [{"index": 1, "canceledQuantity": total}]}
        return finished(live, live.intake.enqueue("cancel_order", "printeers", payload))

    assert cancel(3).state == "succeeded"
    assert cancel(3).state == "succeeded"  # the same totals again: nothing more is canceled
    assert sandbox.org()["orders"][ref]["orderlines"][0]["canceledQuantity"] == 3
    below = cancel(1)
    assert (below.state, below.error and below.error["code"]) == ("failed", "canceled_quantity_below_current")
    beyond = cancel(6)
    assert (beyond.state, beyond.error and beyond.error["code"]) == ("failed", "canceled_quantity_exceeds_shippable")


def test_send_task_intake_records_the_job_first(live: Runtime, sandbox: Sandbox, image_file: Path, celery_app: Any) -> None:
    reference = upload(live, image_file)
    message = celery_app.send_task("printrelay.submit_order", kwargs={"provider": "printeers", "payload": order_payload(reference)})
    job = live.intake._existing("submit_order", "printeers", "default", f"celery:{message.id}")
    for _ in range(100):
        if job is not None:
            break
        import time

        time.sleep(0.1)
        job = live.intake._existing("submit_order", "printeers", "default", f"celery:{message.id}")
    assert job is not None
    done = finished(live, job)
    assert done.state == "succeeded"


def test_a_flaky_provider_ends_every_job_cleanly(make_settings: Any, live: Runtime, sandbox: Sandbox, image_file: Path) -> None:
    runtime = reset_runtime(
        make_settings(
            redis_url=live.settings.redis_url,
            printeers={"read_timeout": 0.5},
            retry={"cancel_order": {"base": 0.05, "cap": 0.2, "max_attempts": 4}},
            # 40 % errors may open the circuit now and then; no beat runs in this process, so its
            # holds must stay short enough to go out as countdowns (a probe backoff of 32 s did not)
            circuit={"probe_max": 4.0},
        )
    )
    sandbox.printeers_config(order_step_seconds=600)
    reference = upload(runtime, image_file)
    order = finished(runtime, runtime.intake.enqueue("submit_order", "printeers", order_payload(reference, quantity=20)))
    assert order.result is not None
    ref = order.result["order_reference"]
    sandbox.knobs(error_rate=0.4)
    sandbox.knobs(faults=[{"kind": "hang", "seconds": 1, "method": "POST", "path": "/cancel", "times": 3}])
    jobs = [
        runtime.intake.enqueue("cancel_order", "printeers", {"order_reference": ref, "orderlines": [{"index": 1, "canceledQuantity": n}]})
        for n in range(1, 13)
    ]
    ends = [finished(runtime, job, timeout=60) for job in jobs]
    sandbox.knobs(error_rate=0)
    for job in ends:
        attempts = job.attempts or []
        assert job.state in ("succeeded", "failed"), job.to_dict()
        assert [a.number for a in attempts] == list(range(1, len(attempts) + 1))
        assert all(a.outcome == "transient" and a.error_code in ("http_500", "timeout") for a in attempts[:-1]), job.to_dict()
        if job.state == "failed":
            assert job.error is not None and job.error["code"] in ("retries_exhausted", "canceled_quantity_below_current")
        else:
            assert attempts[-1].outcome == "done"
    assert any(len(job.attempts or []) > 1 for job in ends)  # the flakiness was felt
