"""The console's JSON API and pages, over real HTTP to a real ``printrelay console`` process, with the
in-process Celery worker running the jobs against the sandbox: sign-in and roles, the guard
against cross-site actions, search by every kind of reference, acting on jobs, providers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Sandbox
from tests.workers import console_server, wait_until
from worker.queries import get_job, wait_for
from worker.runtime import Runtime, reset_runtime

OPERATOR = ("ops", "ops-secret-1")
VIEWER = ("support", "viewer-secret-1")
STORE = "Store_9jmn3dewwvy13rv12k7aannqzy"
PRODUCT = "Product_4j8k2m5n7p9q1r3s6t8v0w2x4y"


@pytest.fixture
def account() -> str:
    return f"shop{uuid.uuid4().hex[:8]}"


@pytest.fixture
def shop(make_settings: Any, live: Runtime, account: str, redis_url: str) -> Runtime:
    """The in-process worker's runtime: one try per upload and submit, so that a fault fails a job."""
    return reset_runtime(
        make_settings(
            redis_url=redis_url,
            printeers={"accounts": {account: {}}},
            retry={"upload_image": {"max_attempts": 1}, "submit_order": {"max_attempts": 1}},
        )
    )


@pytest.fixture
def console(shop: Runtime, account: str, tmp_path: Path) -> Iterator[str]:
    secret: Any = shop.settings.provider("printeers")
    with console_server(
        shop.settings,
        tmp_path,
        PRINTRELAY_CONSOLE__BASIC_AUTH=":".join(OPERATOR),
        PRINTRELAY_CONSOLE__VIEWER_AUTH=":".join(VIEWER),
        **{f"PRINTRELAY_PRINTEERS__ACCOUNTS__{account.upper()}__SECRET_KEY": secret.secret_key.get_secret_value()},
    ) as root:
        yield root


@pytest.fixture
def ops(console: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=console, auth=OPERATOR, timeout=20) as client:
        yield client


@pytest.fixture
def viewer(console: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=console, auth=VIEWER, timeout=20) as client:
        yield client


def post(client: httpx.Client, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
    return client.post(path, json=body or {})


def finished(runtime: Runtime, job_id: str) -> Any:
    done = wait_for(job_id, timeout=30, runtime=runtime)
    assert done.finished, done.to_dict()
    return done


def test_sign_in_is_required_and_a_viewer_only_reads(console: str, viewer: httpx.Client, shop: Runtime, image_file: Path) -> None:
    for path in ("/", "/api/jobs", "/providers", "/api/providers"):
        answer = httpx.get(console + path)
        assert answer.status_code == 401 and answer.headers["www-authenticate"].startswith("Basic"), path
    assert httpx.get(console + "/api/jobs", auth=(OPERATOR[0], "wrong")).status_code == 401
    job = finished(shop, shop.intake.enqueue("upload_image", "printeers", {"source": str(image_file)}).id)
    assert viewer.get(f"/api/jobs/{job.id}").json()["state"] == "succeeded"  # reads
    refused = post(viewer, f"/api/jobs/{job.id}/replay")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert post(viewer, "/api/providers/printeers/pause", {"reason": "no"}).status_code == 403
    assert 'id="replay"' not in viewer.get(f"/jobs/{job.id}").text  # no action buttons for a viewer


def test_actions_answer_only_json_or_the_pages_form_token(ops: httpx.Client, shop: Runtime, image_file: Path) -> None:
    job = finished(shop, shop.intake.enqueue("upload_image", "printeers", {"source": str(image_file)}).id)
    # what another site's page could make a signed-in browser send: a plain form, no token
    forged = ops.post(f"/jobs/{job.id}/replay", data={"force": "on"})
    assert forged.status_code == 403
    assert ops.post(f"/api/jobs/{job.id}/replay", content=b"{}", headers={"content-type": "text/plain"}).status_code == 403
    assert get_job(job.id, runtime=shop).state == "succeeded"  # nothing happened
    page = ops.get(f"/jobs/{job.id}").text
    token = page.split('name="token" value="', 1)[1].split('"', 1)[0]
    replayed = ops.post(f"/jobs/{job.id}/replay", data={"token": token})
    assert replayed.status_code == 303 and replayed.headers["location"] == f"/jobs/{job.id}?done=replay"
    again = finished(shop, job.id)
    assert again.state == "succeeded"
    assert [(e["action"], e["actor"]) for e in get_job(job.id, runtime=shop).events or []] == [("replay", f"console:{OPERATOR[0]}")]


def test_a_failed_job_retried_from_the_console_succeeds(ops: httpx.Client, shop: Runtime, sandbox: Sandbox, image_file: Path) -> None:
    sandbox.fault(kind="status", status=500, method="POST", path="/images")
    job = finished(shop, shop.intake.enqueue("upload_image", "printeers", {"source": str(image_file)}).id)
    assert job.state == "failed"
    assert post(ops, f"/api/jobs/{job.id}/cancel").status_code == 409  # a failed job cannot be canceled
    retried = post(ops, f"/api/jobs/{job.id}/retry")
    assert retried.status_code == 200 and retried.json()["id"] == job.id
    done = finished(shop, job.id)
    assert done.state == "succeeded" and [a.outcome for a in done.attempts or []] == ["transient", "done"]
    assert post(ops, f"/api/jobs/{job.id}/retry").status_code == 409  # a succeeded job is not retried
    story = ops.get(f"/api/jobs/{job.id}/story").json()
    assert [step["outcome"] for step in story["timeline"]] == ["transient", "done"]
    assert story["timeline"][0]["http_status"] == 500 and story["timeline"][1]["waited"] >= 0
    assert story["job"]["events"][0]["actor"] == f"console:{OPERATOR[0]}"


def test_search_finds_jobs_by_every_kind_of_reference(ops: httpx.Client, shop: Runtime, image_file: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    upload = finished(shop, shop.intake.enqueue("upload_image", "printeers", {"source": str(image_file)}).id)
    order = {
        "storeReference": STORE,
        "shippingKind": "dropship",
        "customIdentifier": f"Shop-{tag}",
        "dropshipAddress": {"firstname": "Ann", "lastname": "Lee", "email": f"ann-{tag}@example.com", "phonenumber": "+31600000000"},
        "orderlines": [{"productReference": PRODUCT, "imageReference": upload.result["image_reference"], "quantity": 1}],
    }
    submit = finished(shop, shop.intake.enqueue("submit_order", "printeers", {"order": order}, idempotency_key=f"key-{tag}").id)
    assert submit.state == "succeeded", submit.to_dict()
    reference = submit.result["order_reference"]
    track = shop.intake.enqueue("track_order", "printeers", {"order_reference": reference})

    def search(text: str, **filters: str) -> set[str]:
        answer = ops.get("/api/jobs", params={"q": text, **filters})
        assert answer.status_code == 200, answer.text
        return {job["id"] for job in answer.json()}

    assert search(f"shop-{tag}") == {submit.id}  # the shop's own id
    assert search(reference) == {submit.id, track.id}  # the provider's reference
    assert search(reference, kind="track_order") == {track.id}
    assert search(f"key-{tag}") == {submit.id}  # the idempotency key
    assert search(submit.id[:8]) >= {submit.id}  # an id prefix
    assert search(f"ann-{tag}@example.com") == set()  # customer data is no reference
    assert ops.get("/api/jobs", params={"state": "nonsense"}).status_code == 400

    page = ops.get(f"/jobs/{submit.id}").text
    assert f"ann-{tag}@example.com" not in page and "+31600000000" not in page  # masked on the page
    assert f"Shop-{tag}" in page and track.id[:8] in page  # the shop's id, and the other job on the order
    results = ops.get("/", params={"q": reference}).text
    assert submit.id in results and track.id in results


def test_replaying_a_placed_order_needs_its_confirmation(ops: httpx.Client, shop: Runtime, image_file: Path) -> None:
    upload = finished(shop, shop.intake.enqueue("upload_image", "printeers", {"source": str(image_file)}).id)
    line = {"productReference": PRODUCT, "imageReference": upload.result["image_reference"], "quantity": 1}
    submit = finished(
        shop,
        shop.intake.enqueue(
            "submit_order", "printeers", {"order": {"storeReference": STORE, "shippingKind": "combined", "orderlines": [line]}}
        ).id,
    )
    refused = post(ops, f"/api/jobs/{submit.id}/replay")
    assert refused.status_code == 409 and "second" in refused.json()["error"]["message"]
    assert post(ops, f"/api/jobs/{submit.id}/replay", {"force": True}).status_code == 200
    assert finished(shop, submit.id).state == "succeeded"


def test_retry_failed_counts_first_then_retries(ops: httpx.Client, shop: Runtime, sandbox: Sandbox, image_file: Path, account: str) -> None:
    sandbox.fault(kind="status", status=500, method="POST", path="/images", times=2)
    failed = [
        finished(shop, shop.intake.enqueue("upload_image", "printeers", {"source": str(image_file)}, account=account).id).id
        for _ in range(2)
    ]
    filters = {"provider": "printeers", "account": account, "error_code": "retries_exhausted"}
    counted = post(ops, "/api/jobs/retry-failed", {**filters, "dry_run": True})
    assert counted.status_code == 200 and sorted(counted.json()["job_ids"]) == sorted(failed) and counted.json()["dry_run"] is True
    assert all(get_job(j, runtime=shop).state == "failed" for j in failed)  # only counted
    page = ops.get("/", params={"state": "failed", "account": account}).text
    token = page.split('name="token" value="', 1)[1].split('"', 1)[0]
    confirm = ops.post("/retry-failed", data={"token": token, **filters})
    assert confirm.status_code == 200 and "Retry 2 failed jobs?" in confirm.text
    done = ops.post("/retry-failed", data={"token": token, **filters, "confirm": "true"})
    assert done.status_code == 303
    assert all(finished(shop, j).state == "succeeded" for j in failed)


def test_pause_holds_a_job_and_resume_releases_it(ops: httpx.Client, shop: Runtime, account: str, image_file: Path) -> None:
    paused = post(ops, "/api/providers/printeers/pause", {"account": account, "reason": "their maintenance", "seconds": 600})
    assert paused.status_code == 200, paused.text
    assert paused.json()["paused"]["reason"] == "their maintenance" and paused.json()["paused"]["by"] == f"console:{OPERATOR[0]}"
    job = shop.intake.enqueue("upload_image", "printeers", {"source": str(image_file)}, account=account)
    wait_until(lambda: get_job(job.id, runtime=shop).to_dict().get("waiting_for") == "provider", 20, "the job was not held")
    [row] = [p for p in ops.get("/api/providers").json() if p["provider"] == "printeers" and p["account"] == account]
    assert row["held"] == 1 and row["paused"]["reason"] == "their maintenance"
    assert "their maintenance" in ops.get("/providers").text
    resumed = post(ops, "/api/providers/printeers/resume", {"account": account})
    assert resumed.status_code == 200 and resumed.json()["paused"] is None
    assert finished(shop, job.id).state == "succeeded"
    assert post(ops, "/api/providers/nowhere/pause", {}).json()["error"]["code"] == "unknown_provider"


def test_an_unknown_job_is_404_on_the_api_and_the_page(ops: httpx.Client) -> None:
    missing = ops.get(f"/api/jobs/{uuid.uuid4()}")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "job_not_found"
    assert ops.get(f"/jobs/{uuid.uuid4()}").status_code == 404
