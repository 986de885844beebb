"""Print API end to end: OAuth, order, upload, polling, reconciliation; real worker and sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Sandbox
from worker.jobview import JobInfo
from worker.queries import get_job, wait_for
from worker.runtime import Runtime, reset_runtime

ADDRESS = {"name": "Print API", "line1": "Osloweg 75", "postCode": "9700 GE", "city": "Groningen", "country": "NL"}


def finished(runtime: Runtime, job: JobInfo, timeout: float = 30) -> JobInfo:
    done = wait_for(job.id, timeout=timeout, runtime=runtime)
    assert done.finished, f"job {job.id} still {done.state} after {timeout} s"
    return get_job(job.id, runtime=runtime)


@pytest.fixture
def fast(make_settings: Any, live: Runtime) -> Runtime:
    """Polls every half second instead of every 30 s."""
    return reset_runtime(make_settings(redis_url=live.settings.redis_url, retry={"poll_print_file": {"poll_interval": 0.5}}))


def test_order_then_upload_then_poll_to_accepted(fast: Runtime, sandbox: Sandbox, client_id: str, tmp_path: Path) -> None:
    order = {
        "email": "shop@example.com",
        "items": [{"productId": "poster_a3_sta", "quantity": 10}],
        "shipping": {"preference": "Tracked", "address": ADDRESS},
    }
    placed = finished(fast, fast.intake.enqueue("submit_order", "printapi", order, idempotency_key="order-1"))
    assert placed.state == "succeeded", placed.to_dict()
    assert placed.result is not None
    order_id = placed.result["order_id"]
    item = placed.result["items"][0]
    assert item["files"]["content"]["status"] == "AwaitingUpload"

    pdf = tmp_path / "poster"
    pdf.write_bytes(sandbox.file("sample.pdf"))
    poll = fast.intake.enqueue("poll_print_file", "printapi", {"order_id": order_id})
    upload = fast.intake.enqueue(
        "upload_image", "printapi", {"source": str(pdf), "order_id": order_id, "item_id": item["id"], "file": "content"}
    )
    assert finished(fast, upload).state == "succeeded"
    polled = finished(fast, poll)
    assert polled.state == "succeeded", polled.to_dict()
    assert polled.result == {"files": {f"{item['id']}/content": {"status": "Accepted"}}}
    assert {a.outcome for a in polled.attempts or []} <= {"pending", "done"}

    tracked = finished(fast, fast.intake.enqueue("track_order", "printapi", {"order_id": order_id}))
    assert tracked.result is not None and tracked.result["status"] == "Processing"
    state = sandbox.printapi_client(client_id)
    assert state["submits"] == 1 and list(state["orders"]) == [order_id]


def test_files_by_url_are_polled_until_downloaded(fast: Runtime, sandbox: Sandbox) -> None:
    sandbox.printapi_config(download_delay=1.5)
    url = f"{sandbox.root}/_sandbox/files/sample.pdf"
    order = {
        "items": [{"productId": "boek_hc_a5_sta", "pageCount": 32, "quantity": 1, "files": {"content": url, "cover": url}}],
        "shipping": {"address": ADDRESS},
    }
    placed = finished(fast, fast.intake.enqueue("submit_order", "printapi", order))
    assert placed.result is not None
    polled = finished(fast, fast.intake.enqueue("poll_print_file", "printapi", {"order_id": placed.result["order_id"]}))
    assert polled.state == "succeeded"
    assert next(a.outcome for a in polled.attempts or []) == "pending"


def test_a_failed_download_fails_the_poll_with_that_code(fast: Runtime, sandbox: Sandbox) -> None:
    sandbox.printapi_config(download_delay=0, fail_downloads=True)
    order = {
        "items": [{"productId": "poster_a3_sta", "quantity": 1, "files": {"content": "https://gone.example/x.pdf"}}],
        "shipping": {"address": ADDRESS},
    }
    placed = finished(fast, fast.intake.enqueue("submit_order", "printapi", order))
    assert placed.result is not None
    polled = finished(fast, fast.intake.enqueue("poll_print_file", "printapi", {"order_id": placed.result["order_id"]}))
    assert (polled.state, polled.error and polled.error["code"]) == ("failed", "DownloadFailed")


def test_a_lost_submit_answer_is_reconciled_without_a_second_order(
    make_settings: Any, live: Runtime, sandbox: Sandbox, client_id: str
) -> None:
    runtime = reset_runtime(
        make_settings(redis_url=live.settings.redis_url, printapi={"read_timeout": 0.5}, retry={"submit_order": {"base": 0.2, "cap": 0.5}})
    )
    sandbox.fault("printapi", kind="hang", seconds=1.5, method="POST", path="/orders")
    order = {"items": [{"productId": "poster_a3_sta", "quantity": 1}], "shipping": {"address": ADDRESS}}
    job = finished(runtime, runtime.intake.enqueue("submit_order", "printapi", order, idempotency_key="lost-answer"))
    assert job.state == "succeeded", job.to_dict()
    attempts = job.attempts or []
    assert [a.outcome for a in attempts] == ["ambiguous", "done"]
    assert attempts[1].note is not None and "already placed" in attempts[1].note
    state = sandbox.printapi_client(client_id)
    assert state["submits"] == 1 and len(state["orders"]) == 1
    assert job.result is not None and list(state["orders"]) == [job.result["order_id"]]


def test_an_expired_token_is_refreshed(fast: Runtime, sandbox: Sandbox, client_id: str) -> None:
    order = {"items": [{"productId": "poster_a3_sta", "quantity": 1}], "shipping": {"address": ADDRESS}}
    placed = finished(fast, fast.intake.enqueue("submit_order", "printapi", order))
    assert placed.result is not None
    sandbox.printapi_config(expire_tokens=True)
    tracked = finished(fast, fast.intake.enqueue("track_order", "printapi", {"order_id": placed.result["order_id"]}))
    assert tracked.state == "succeeded" and len(tracked.attempts or []) == 1
