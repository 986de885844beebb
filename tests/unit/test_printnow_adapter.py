"""The PrintNow adapter against respx: Basic auth, 409 + Retry-After, ZIP checks, status updates."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from config.settings import Settings
from tests.fakes import DictMemo
from worker.adapters.base import Call
from worker.adapters.printnow import PrintnowAdapter, PrintnowSettings
from worker.errors import InvalidPayload
from worker.states import OutcomeKind

BASE = "https://printnow.test/api/v2"
adapter = PrintnowAdapter()


def a_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("item-8001.pdf", b"%PDF-1.4 x" * 100)
    return buffer.getvalue()


def make_call(kind: str, payload: dict[str, Any], artifacts: Path) -> Call:
    settings = PrintnowSettings(base_url=BASE, token="tok", key="k3y")  # type: ignore[arg-type]
    return Call(
        kind=kind,
        payload=payload,
        account="default",
        settings=settings,
        client=adapter.client(settings, timeout=2),
        memo=DictMemo(),
        job_id="j",
        artifact_dir=artifacts,
    )


@respx.mock
def test_a_409_is_pending_for_exactly_the_retry_after(tmp_path: Path) -> None:
    route = respx.get(f"{BASE}/order/5001/download").mock(
        return_value=httpx.Response(409, json={"message": "All items have not completed merge process."}, headers={"Retry-After": "60"})
    )
    outcome = adapter.perform(make_call("poll_print_file", {"order_id": 5001}, tmp_path))
    assert (outcome.kind, outcome.retry_after, outcome.http_status) == (OutcomeKind.PENDING, 60.0, 409)
    assert route.calls.last.request.headers["Authorization"] == "Basic " + base64.b64encode(b"tok:k3y").decode()
    assert not list(tmp_path.rglob("*.zip")) and not list(tmp_path.rglob("*.part"))


@respx.mock
def test_a_zip_is_stored_with_its_size_and_hash(tmp_path: Path) -> None:
    data = a_zip()
    respx.get(f"{BASE}/order/5001/download/8001").mock(
        return_value=httpx.Response(200, content=data, headers={"Content-Type": "application/zip"})
    )
    outcome = adapter.perform(make_call("poll_print_file", {"order_id": 5001, "item_id": 8001}, tmp_path))
    assert outcome.kind is OutcomeKind.DONE and outcome.result is not None
    artifact = outcome.result["artifact"]
    assert Path(artifact["path"]).name == "item-8001.zip"
    assert (artifact["size"], artifact["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
    assert Path(artifact["path"]).read_bytes() == data


@respx.mock
def test_assets_use_their_own_path(tmp_path: Path) -> None:
    route = respx.get(f"{BASE}/order/5001/assets/8001").mock(return_value=httpx.Response(200, content=a_zip()))
    outcome = adapter.perform(make_call("poll_print_file", {"order_id": 5001, "item_id": 8001, "assets": True}, tmp_path))
    assert route.called and outcome.result is not None and outcome.result["artifact"]["path"].endswith("item-assets-8001.zip")


@respx.mock
@pytest.mark.parametrize("body", [b"PK\x03\x04 this is not really a zip", a_zip()[:-30]])
def test_a_corrupt_or_truncated_zip_is_transient_and_never_stored(tmp_path: Path, body: bytes) -> None:
    respx.get(f"{BASE}/order/5001/download").mock(return_value=httpx.Response(200, content=body))
    outcome = adapter.perform(make_call("poll_print_file", {"order_id": 5001}, tmp_path))
    assert (outcome.kind, outcome.error_code) == (OutcomeKind.TRANSIENT, "download_corrupt")
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


@respx.mock
def test_401_is_unauthorized_with_the_providers_message(tmp_path: Path) -> None:
    respx.get(f"{BASE}/order/5001").mock(return_value=httpx.Response(401, json={"message": "Your license has expired."}))
    outcome = adapter.perform(make_call("track_order", {"order_id": 5001}, tmp_path))
    assert (outcome.kind, outcome.error_code, outcome.error_message) == (OutcomeKind.PERMANENT, "unauthorized", "Your license has expired.")


@respx.mock
@pytest.mark.parametrize(("text", "code"), [("Order not found.", "order_not_found"), ("Item not found.", "item_not_found")])
def test_404s(tmp_path: Path, text: str, code: str) -> None:
    respx.patch(f"{BASE}/order/5001/status/8001").mock(return_value=httpx.Response(404, json={"message": text}))
    outcome = adapter.perform(make_call("update_status", {"order_id": 5001, "item_id": 8001, "order_status": "In Production"}, tmp_path))
    assert (outcome.kind, outcome.error_code) == (OutcomeKind.PERMANENT, code)


@respx.mock
def test_status_update_sends_the_seeds_body(tmp_path: Path) -> None:
    route = respx.patch(f"{BASE}/order/5001/status").mock(return_value=httpx.Response(204))
    payload = {
        "order_id": 5001,
        "order_status": "In Production",
        "comments": "Sent to press",
        "user_initials": "JS",
        "notify_customer": True,
        "notify_vendor": False,
    }
    assert adapter.perform(make_call("update_status", payload, tmp_path)).kind is OutcomeKind.DONE
    assert json.loads(route.calls.last.request.content) == {k: v for k, v in payload.items() if k != "order_id"}


@respx.mock
def test_shipped_with_and_without_tracking_and_the_missing_status(tmp_path: Path) -> None:
    route = respx.patch(f"{BASE}/order/5001/shipped/8001").mock(return_value=httpx.Response(204))
    adapter.perform(make_call("update_status", {"order_id": 5001, "item_id": 8001, "shipped": True, "tracking_number": "1Z999"}, tmp_path))
    assert json.loads(route.calls.last.request.content) == {"tracking_number": "1Z999"}
    respx.patch(f"{BASE}/order/5001/shipped").mock(return_value=httpx.Response(400, text="Bad Request"))
    outcome = adapter.perform(make_call("update_status", {"order_id": 5001, "shipped": True}, tmp_path))
    assert (outcome.kind, outcome.error_code) == (OutcomeKind.PERMANENT, "no_shipped_status")


@respx.mock
def test_track_keeps_status_items_and_shipping(tmp_path: Path) -> None:
    respx.get(f"{BASE}/order/5001").mock(
        return_value=httpx.Response(
            200,
            json={
                "id": 5001,
                "status": "In Production",
                "shipping_provider": "UPS",
                "shipping_service": "Ground",
                "shipped_on": None,
                "shipping_address": {"city": "New York"},
                "items": [{"id": 8001, "name": "Business Cards", "status": "In Production", "quantity": 500}],
            },
        )
    )
    result = adapter.perform(make_call("track_order", {"order_id": 5001}, tmp_path)).result
    assert result is not None
    assert (result["status"], result["shipping_provider"], result["items"][0]["status"]) == ("In Production", "UPS", "In Production")


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ({"order_id": 1}, "either"),
        ({"order_id": 1, "shipped": True, "order_status": "x"}, "either"),
        ({"order_id": 1, "shipped": True, "comments": "c"}, "only tracking_number"),
        ({"order_id": 1, "assets": True}, None),
    ],
)
def test_enqueue_rules(payload: dict[str, Any], match: str | None) -> None:
    """Seed 003: "Mark … Shipped" takes an optional ``tracking_number`` only, "Update … Status"
    needs ``order_status``; one job is one of the two. Assets exist only per item
    (``/order/{orderId}/assets/{itemId}``)."""
    kind = "poll_print_file" if "assets" in payload else "update_status"
    with pytest.raises(InvalidPayload, match=match or "item_id"):
        adapter.validate(kind, payload, Settings(_env_file=None).printnow)  # type: ignore[call-arg]
