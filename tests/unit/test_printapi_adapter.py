"""The Print API adapter against respx: OAuth and its token cache, shapes, every error path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from config.settings import Settings
from tests.fakes import DictMemo
from worker.adapters.base import Call
from worker.adapters.printapi import PrintapiAdapter, PrintapiSettings
from worker.errors import InvalidPayload
from worker.redact import Redactor
from worker.states import OutcomeKind

BASE = "https://printapi.test/v2"
PDF = b"%PDF-1.4 test"
ORDER = {
    "items": [{"productId": "poster_a3_sta", "quantity": 1}],
    "shipping": {"address": {"name": "Print API", "line1": "Osloweg 75", "postCode": "9700 GE", "city": "Groningen", "country": "NL"}},
}


SETTINGS = PrintapiSettings(base_url=BASE, client_id="cid", client_secret="csecret")  # type: ignore[arg-type]
#: One client per adapter, as the runtime keeps one per provider and account: the token cache is its auth's.
CLIENTS: dict[PrintapiAdapter, httpx.Client] = {}  # by the adapter itself: an id() is reused once it is freed


def make_call(
    adapter: PrintapiAdapter,
    kind: str,
    payload: dict[str, Any],
    *,
    key: str | None = None,
    reconcile: bool = False,
    redactor: Redactor | None = None,
) -> Call:
    settings = SETTINGS
    if redactor is not None:
        CLIENTS[adapter] = adapter.client(settings, redactor.remember, timeout=2)
    client = CLIENTS.setdefault(adapter, adapter.client(settings, timeout=2))
    return Call(
        kind=kind,
        payload=payload,
        account="default",
        settings=settings,
        client=client,
        memo=DictMemo(),
        job_id="00000000-0000-0000-0000-000000000001",
        idempotency_key=key,
        reconcile=reconcile,
    )


def token(value: str = "tok-1", expires_in: int = 14399) -> httpx.Response:
    return httpx.Response(200, json={"access_token": value, "token_type": "bearer", "expires_in": expires_in, "scope": "x"})


def created(order_id: str, files: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": order_id,
        "status": "Created",
        "items": [
            {
                "id": "18557",
                "productId": "poster_a3_sta",
                "files": files or {"content": {"status": "AwaitingUpload", "uploadUrl": f"{BASE}/files/up1"}},
            }
        ],
    }


@pytest.fixture
def adapter() -> PrintapiAdapter:
    return PrintapiAdapter()


@respx.mock
def test_oauth_once_then_the_cached_bearer_token(adapter: PrintapiAdapter) -> None:
    oauth = respx.post(f"{BASE}/oauth").mock(return_value=token())
    orders = respx.get(f"{BASE}/orders/42").mock(return_value=httpx.Response(200, json={"id": "42", "status": "Created", "items": []}))
    for _ in range(2):
        assert adapter.perform(make_call(adapter, "track_order", {"order_id": "42"})).kind is OutcomeKind.DONE
    assert oauth.call_count == 1
    form = parse_qs(oauth.calls.last.request.content.decode())
    assert form == {"grant_type": ["client_credentials"], "client_id": ["cid"], "client_secret": ["csecret"]}
    assert orders.calls.last.request.headers["Authorization"] == "Bearer tok-1"


@respx.mock
def test_a_token_about_to_expire_is_refreshed_first(adapter: PrintapiAdapter) -> None:
    oauth = respx.post(f"{BASE}/oauth").mock(side_effect=[token("old", expires_in=30), token("new")])
    respx.get(f"{BASE}/orders/42").mock(return_value=httpx.Response(200, json={"id": "42", "status": "Created", "items": []}))
    adapter.perform(make_call(adapter, "track_order", {"order_id": "42"}))
    adapter.perform(make_call(adapter, "track_order", {"order_id": "42"}))
    assert oauth.call_count == 2


@respx.mock
def test_a_401_refreshes_once_and_a_second_401_is_unauthorized(adapter: PrintapiAdapter) -> None:
    respx.post(f"{BASE}/oauth").mock(side_effect=[token("t1"), token("t2"), token("t3"), token("t4")])
    route = respx.get(f"{BASE}/orders/42").mock(
        side_effect=[
            httpx.Response(401, json={"message": "expired"}),
            httpx.Response(200, json={"id": "42", "status": "Shipped", "trackingUrl": "https://t/1", "items": []}),
        ]
    )
    outcome = adapter.perform(make_call(adapter, "track_order", {"order_id": "42"}))
    assert outcome.result == {"order_id": "42", "status": "Shipped", "trackingUrl": "https://t/1"}
    assert [c.request.headers["Authorization"] for c in route.calls] == ["Bearer t1", "Bearer t2"]
    route.mock(side_effect=[httpx.Response(401, json={"message": "nope"}), httpx.Response(401, json={"message": "still nope"})])
    outcome = adapter.perform(make_call(adapter, "track_order", {"order_id": "42"}))
    assert (outcome.kind, outcome.error_code) == (OutcomeKind.PERMANENT, "unauthorized")
    assert "still nope" in (outcome.error_message or "")


@respx.mock
def test_refused_client_credentials_are_unauthorized(adapter: PrintapiAdapter) -> None:
    respx.post(f"{BASE}/oauth").mock(return_value=httpx.Response(401, json={"error": "invalid_client"}))
    outcome = adapter.perform(make_call(adapter, "track_order", {"order_id": "42"}))
    assert (outcome.kind, outcome.error_code) == (OutcomeKind.PERMANENT, "unauthorized")


@respx.mock
@pytest.mark.parametrize(
    ("payload_id", "key", "expected"),
    [
        ("my-order-1", None, "my-order-1"),
        (None, "order-1001", None),  # derived from the key: stable, at most 36 characters
        (None, None, "00000000-0000-0000-0000-000000000001"),  # the job id
    ],
)
def test_submit_always_sends_an_id(adapter: PrintapiAdapter, payload_id: str | None, key: str | None, expected: str | None) -> None:
    respx.post(f"{BASE}/oauth").mock(return_value=token())
    route = respx.post(f"{BASE}/orders").mock(
        side_effect=lambda request: httpx.Response(201, json=created(json.loads(request.content)["id"]))
    )
    payload = {**ORDER, **({"id": payload_id} if payload_id else {})}
    first = adapter.perform(make_call(adapter, "submit_order", payload, key=key))
    second = adapter.perform(make_call(adapter, "submit_order", payload, key=key))
    sent = [json.loads(call.request.content)["id"] for call in route.calls]
    assert sent[0] == sent[1] and len(sent[0]) <= 36
    if expected:
        assert sent[0] == expected
    assert first.result is not None and first.result["order_id"] == sent[0]
    assert first.result["items"][0]["files"]["content"]["uploadUrl"].endswith("/files/up1")
    assert second.kind is OutcomeKind.DONE


@respx.mock
def test_an_ambiguous_submit_is_reconciled_not_repeated(adapter: PrintapiAdapter) -> None:
    respx.post(f"{BASE}/oauth").mock(return_value=token())
    post = respx.post(f"{BASE}/orders").mock(side_effect=httpx.ReadTimeout("lost"))
    first = adapter.perform(make_call(adapter, "submit_order", ORDER, key="k"))
    assert first.kind is OutcomeKind.AMBIGUOUS
    sent_id = json.loads(post.calls.last.request.content)["id"]
    respx.get(f"{BASE}/orders/{sent_id}").mock(return_value=httpx.Response(200, json=created(sent_id)))
    again = adapter.perform(make_call(adapter, "submit_order", ORDER, key="k", reconcile=True))
    assert again.kind is OutcomeKind.DONE and again.result is not None and again.result["order_id"] == sent_id
    assert post.call_count == 1


@respx.mock
def test_reconciling_an_order_that_is_not_there_submits_it(adapter: PrintapiAdapter) -> None:
    respx.post(f"{BASE}/oauth").mock(return_value=token())
    respx.get(url__regex=rf"{BASE}/orders/.+").mock(return_value=httpx.Response(404, json={"message": "Order not found"}))
    post = respx.post(f"{BASE}/orders").mock(
        side_effect=lambda request: httpx.Response(201, json=created(json.loads(request.content)["id"]))
    )
    assert adapter.perform(make_call(adapter, "submit_order", ORDER, reconcile=True)).kind is OutcomeKind.DONE
    assert post.call_count == 1


@respx.mock
@pytest.mark.parametrize(
    ("status", "code"), [(400, "invalid_input"), (403, "not_allowed"), (404, "order_not_found"), (409, "duplicate_order_id")]
)
def test_errors_carry_the_providers_message(adapter: PrintapiAdapter, status: int, code: str) -> None:
    respx.post(f"{BASE}/oauth").mock(return_value=token())
    respx.post(f"{BASE}/orders").mock(return_value=httpx.Response(status, json={"message": "explained here"}))
    outcome = adapter.perform(make_call(adapter, "submit_order", ORDER))
    assert (outcome.kind, outcome.error_code, outcome.http_status) == (OutcomeKind.PERMANENT, code, status)
    if code != "duplicate_order_id":
        assert outcome.error_message == "explained here"


@respx.mock
def test_upload_posts_the_bytes_typed_by_content(adapter: PrintapiAdapter, tmp_path: Path) -> None:
    source = tmp_path / "cover.bin"  # the name says nothing; the bytes say PDF
    source.write_bytes(PDF)
    respx.post(f"{BASE}/oauth").mock(return_value=token())
    respx.get(f"{BASE}/orders/7").mock(return_value=httpx.Response(200, json=created("7")))
    upload = respx.post(f"{BASE}/files/up1").mock(return_value=httpx.Response(200))
    outcome = adapter.perform(
        make_call(adapter, "upload_image", {"source": str(source), "order_id": "7", "item_id": "18557", "file": "content"})
    )
    assert outcome.kind is OutcomeKind.DONE
    request = upload.calls.last.request
    assert (request.headers["Content-Type"], request.content, request.headers["Authorization"]) == ("application/pdf", PDF, "Bearer tok-1")


@respx.mock
def test_upload_of_an_already_accepted_file_sends_nothing(adapter: PrintapiAdapter, tmp_path: Path) -> None:
    source = tmp_path / "x.pdf"
    source.write_bytes(PDF)
    respx.post(f"{BASE}/oauth").mock(return_value=token())
    respx.get(f"{BASE}/orders/7").mock(return_value=httpx.Response(200, json=created("7", {"content": {"status": "Accepted"}})))
    upload = respx.post(f"{BASE}/files/up1")
    outcome = adapter.perform(make_call(adapter, "upload_image", {"source": str(source), "order_id": "7", "item_id": "18557"}))
    assert outcome.kind is OutcomeKind.DONE and upload.call_count == 0


@respx.mock
def test_upload_refuses_what_is_not_pdf_jpeg_or_png(adapter: PrintapiAdapter, tmp_path: Path) -> None:
    source = tmp_path / "x.pdf"
    source.write_bytes(b"GIF89a....")
    respx.post(f"{BASE}/oauth").mock(return_value=token())
    outcome = adapter.perform(
        make_call(adapter, "upload_image", {"source": str(source), "order_id": "7", "item_id": "1", "upload_url": f"{BASE}/files/x"})
    )
    assert (outcome.kind, outcome.error_code) == (OutcomeKind.PERMANENT, "unsupported_file_format")


@respx.mock
@pytest.mark.parametrize(
    ("statuses", "kind", "code"),
    [
        (["Accepted", "Accepted"], OutcomeKind.DONE, None),
        (["Accepted", "DownloadPending"], OutcomeKind.PENDING, None),
        (["AwaitingUpload", "Accepted"], OutcomeKind.PENDING, None),
        (["DownloadFailed", "Accepted"], OutcomeKind.PERMANENT, "DownloadFailed"),
    ],
)
def test_poll_until_every_file_is_accepted(adapter: PrintapiAdapter, statuses: list[str], kind: OutcomeKind, code: str | None) -> None:
    respx.post(f"{BASE}/oauth").mock(return_value=token())
    order = {
        "id": "7",
        "status": "Created",
        "items": [{"id": "1", "files": {"content": {"status": statuses[0]}, "cover": {"status": statuses[1]}}}],
    }
    respx.get(f"{BASE}/orders/7").mock(return_value=httpx.Response(200, json=order))
    outcome = adapter.perform(make_call(adapter, "poll_print_file", {"order_id": "7"}))
    assert (outcome.kind, outcome.error_code if kind is OutcomeKind.PERMANENT else None) == (kind, code)
    if kind is OutcomeKind.DONE:
        assert outcome.result == {"files": {"1/content": {"status": "Accepted"}, "1/cover": {"status": "Accepted"}}}


@respx.mock
def test_the_token_never_reaches_an_attempt(adapter: PrintapiAdapter) -> None:
    respx.post(f"{BASE}/oauth").mock(return_value=token("supersecret-token-value"))
    respx.get(f"{BASE}/orders/7").mock(return_value=httpx.Response(400, json={"message": "bad token supersecret-token-value"}))
    redactor = Redactor.for_settings(SETTINGS)  # the runtime's: it learns the tokens the client's auth obtains
    outcome = redactor.redact_outcome(adapter.perform(make_call(adapter, "track_order", {"order_id": "7"}, redactor=redactor)))
    assert "supersecret-token-value" not in json.dumps(outcome.__dict__, default=str)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": "x" * 37}, "id"),
        ({"email": "e" * 255}, "email"),
        ({"username": "u" * 65}, "username"),
        ({"coupon": "c" * 65}, "coupon"),
        ({"metadata": "m" * 4093}, "metadata"),
        ({"items": []}, "items"),
        ({"shipping": {}}, "shipping.address"),
    ],
)
def test_submit_rules_at_enqueue(change: dict[str, Any], field: str) -> None:
    """Seed 001's property table ("Length: 0-36, inclusive" and the like) and "You must include
    at least one item and a shipping address"."""
    with pytest.raises(InvalidPayload) as caught:
        PrintapiAdapter().validate("submit_order", {**ORDER, **change}, Settings(_env_file=None).printapi)  # type: ignore[call-arg]
    assert caught.value.field == field


@pytest.mark.parametrize(
    "change",
    [
        {"id": ""},
        {"items": [{"productId": "poster_a3_staand", "quantity": 0}]},
        {"items": [{"quantity": 1}]},
        {"shipping": {"address": {"name": "Print API", "country": "nl"}}},
    ],
)
def test_what_the_seed_does_not_rule_on_is_left_to_print_api(change: dict[str, Any]) -> None:
    """Seed 001 bounds lengths (``Id`` "0-36", so an empty id is allowed) but shows items and
    addresses only by example: their fields and values are Print API's to judge."""
    PrintapiAdapter().validate("submit_order", {**ORDER, **change}, Settings(_env_file=None).printapi)  # type: ignore[call-arg]
