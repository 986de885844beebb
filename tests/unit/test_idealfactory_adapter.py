"""The Ideal Factory adapter against respx: shapes, the template_config rules, each error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
import respx

from config.settings import Settings
from tests.fakes import DictMemo
from worker.adapters.base import Call
from worker.adapters.idealfactory import IdealfactoryAdapter, IdealfactorySettings
from worker.errors import InvalidPayload
from worker.states import OutcomeKind

BASE = "https://oms.test"
adapter = IdealfactoryAdapter()
ITEM = {
    "ecommerce_order_item_id": "ITEM-1",
    "ecommerce_variant_id": "V-1",
    "quantity": 2,
    "template_config": {"layers": [{"text": "Hi & bye"}]},
    "thumbnails": ["https://cdn.test/t.png"],
}
ORDER = {
    "ecommerce_order_id": "ORD-1",
    "items": [ITEM],
    "create_print_files": True,
    "addresses": [{"type_id": "shipping", "address_1": "Main St 1", "post_code": "1000", "city": "Brussels", "country_code": "BE"}],
    "shippings": [{"code": "STANDARD", "shipping_price": 9.99}],
}


def make_call(kind: str, payload: dict[str, Any], *, reconcile: bool = False, artifacts: Path = Path("/tmp")) -> Call:
    settings = IdealfactorySettings(base_url=BASE, token="if-token-123", store_id="store-9")  # type: ignore[arg-type]
    return Call(
        kind=kind,
        payload=payload,
        account="default",
        settings=settings,
        client=adapter.client(settings, timeout=2),
        memo=DictMemo(),
        job_id="j",
        reconcile=reconcile,
        artifact_dir=artifacts,
    )


def validate(kind: str, payload: dict[str, Any], **settings: Any) -> dict[str, Any]:
    return adapter.validate(kind, payload, Settings(_env_file=None, idealfactory=settings).idealfactory)  # type: ignore[call-arg]


def test_template_config_objects_are_url_encoded_json_at_enqueue() -> None:
    stored = validate("submit_order", ORDER, store_id="s")
    encoded = stored["items"][0]["template_config"]
    assert isinstance(encoded, str) and "%" in encoded
    assert json.loads(unquote(encoded)) == ITEM["template_config"]


def test_an_already_encoded_string_passes_unchanged_and_a_bad_one_is_refused() -> None:
    good = quote(json.dumps({"a": 1}))
    stored = validate("submit_order", {**ORDER, "items": [{**ITEM, "template_config": good}]}, store_id="s")
    assert stored["items"][0]["template_config"] == good
    with pytest.raises(InvalidPayload) as caught:
        validate("submit_order", {**ORDER, "items": [{**ITEM, "template_config": "not%20json"}]}, store_id="s")
    assert caught.value.field == "items[0].template_config"


MISSING = object()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"ecommerce_order_id": MISSING}, "ecommerce_order_id"),
        ({"items": MISSING}, "items"),
        ({"items": [{k: v for k, v in ITEM.items() if k != "thumbnails"}]}, "items[0].thumbnails"),
        ({"items": [{k: v for k, v in ITEM.items() if k != "ecommerce_variant_id"}]}, "items[0].ecommerce_variant_id"),
        (
            {"addresses": [{"type_id": "home", "address_1": "x", "post_code": "1", "city": "c", "country_code": "BE"}]},
            "addresses[0].type_id",
        ),
        ({"addresses": [{"type_id": "billing", "address_1": "x", "city": "c", "country_code": "BE"}]}, "addresses[0].post_code"),
        ({"shippings": [{"code": "STANDARD"}]}, "shippings[0].shipping_price"),
    ],
)
def test_the_seeds_required_fields(change: dict[str, Any], field: str) -> None:
    """Seed 002's tables: these fields are "Required: Yes"; ``type_id`` is 'billing' or 'shipping'."""
    payload = {k: v for k, v in {**ORDER, **change}.items() if v is not MISSING}
    with pytest.raises(InvalidPayload) as caught:
        validate("submit_order", payload, store_id="s")
    assert caught.value.field == field


@pytest.mark.parametrize(
    "change",
    [
        {"ecommerce_order_id": ""},
        {"items": []},
        {"items": [{**ITEM, "quantity": 0}]},
        {"addresses": [{"type_id": "billing", "address_1": "x", "post_code": "", "city": "c", "country_code": "BEL"}]},
        {"shippings": [{"code": "STANDARD", "shipping_price": -1}]},
    ],
)
def test_what_the_seed_does_not_rule_on_is_left_to_ideal_factory(change: dict[str, Any]) -> None:
    """Seed 002 states which fields are required and their types, not their lengths, bounds or
    formats: an empty list, a zero quantity or a three-letter country code go to the provider."""
    validate("submit_order", {**ORDER, **change}, store_id="s")


def test_store_id_from_the_payload_or_the_settings() -> None:
    with pytest.raises(InvalidPayload, match="store_id"):
        validate("submit_order", ORDER)
    validate("submit_order", {**ORDER, "store_id": "mine"})


@respx.mock
def test_submit_sends_every_field_with_the_store_and_maps_item_uids() -> None:
    route = respx.post(f"{BASE}/api/v1/orders").mock(
        return_value=httpx.Response(
            201, json={"uid": "OUID", "ecommerce_order_id": "ORD-1", "items": [{"uid": "IUID", "ecommerce_order_item_id": "ITEM-1"}]}
        )
    )
    payload = adapter.normalize("submit_order", ORDER)
    outcome = adapter.perform(make_call("submit_order", payload))
    assert outcome.result == {"order_uid": "OUID", "item_uids": {"ITEM-1": "IUID"}}
    sent = json.loads(route.calls.last.request.content)
    assert sent["store_id"] == "store-9" and sent["create_print_files"] is True and sent["shippings"] == ORDER["shippings"]
    assert route.calls.last.request.headers["Authorization"] == "Bearer if-token-123"


@respx.mock
@pytest.mark.parametrize(("status", "code"), [(400, "bad_request"), (401, "unauthorized"), (403, "forbidden"), (404, "order_not_found")])
def test_each_documented_error(status: int, code: str) -> None:
    respx.put(f"{BASE}/api/v1/orders/OUID").mock(
        return_value=httpx.Response(status, json={"message": "The given data was invalid.", "errors": {"note": "too long"}})
    )
    outcome = adapter.perform(make_call("update_order", {"order_uid": "OUID", "note": "x"}))
    assert (outcome.kind, outcome.error_code, outcome.http_status) == (OutcomeKind.PERMANENT, code, status)
    assert "note: too long" in (outcome.error_message or "")


@respx.mock
def test_update_puts_the_changes_without_the_uid() -> None:
    route = respx.put(f"{BASE}/api/v1/orders/OUID").mock(return_value=httpx.Response(200, json={"uid": "OUID", "note": "n"}))
    assert adapter.perform(make_call("update_order", {"order_uid": "OUID", "note": "n", "total_price": 69.98})).kind is OutcomeKind.DONE
    assert json.loads(route.calls.last.request.content) == {"note": "n", "total_price": 69.98}


@respx.mock
def test_a_cancel_whose_answer_was_lost_is_reconciled() -> None:
    respx.delete(f"{BASE}/api/v1/orders/OUID").mock(side_effect=httpx.ReadTimeout("lost"))
    assert adapter.perform(make_call("cancel_order", {"order_uid": "OUID"})).kind is OutcomeKind.AMBIGUOUS
    respx.get(f"{BASE}/api/v1/orders/OUID").mock(return_value=httpx.Response(404, json={"message": "Order not found."}))
    outcome = adapter.perform(make_call("cancel_order", {"order_uid": "OUID"}, reconcile=True))
    assert outcome.kind is OutcomeKind.DONE and outcome.note and "already deleted" in outcome.note


@respx.mock
@pytest.mark.parametrize(
    ("status", "kind", "code"),
    [
        ("received", OutcomeKind.PENDING, None),
        ("processing", OutcomeKind.PENDING, None),
        ("processingfailed", OutcomeKind.PERMANENT, "processingfailed"),
        ("ready", OutcomeKind.DONE, None),
    ],
)
def test_print_file_statuses(status: str, kind: OutcomeKind, code: str | None) -> None:
    url = "https://cdn.test/ITEM-1.pdf" if status == "ready" else None
    respx.get(f"{BASE}/api/v1/order-items/ITEM-1/print").mock(
        return_value=httpx.Response(200, json={"ecommerce_order_item_id": "ITEM-1", "status": status, "url": url})
    )
    outcome = adapter.perform(make_call("poll_print_file", {"ecommerce_order_item_id": "ITEM-1"}))
    assert outcome.kind is kind
    if code:
        assert outcome.error_code == code
    if kind is OutcomeKind.DONE:
        assert outcome.result == {"status": "ready", "url": url}


@respx.mock
def test_a_ready_print_file_can_be_stored_with_its_hash(tmp_path: Path) -> None:
    respx.get(f"{BASE}/api/v1/order-items/ITEM-1/print").mock(
        return_value=httpx.Response(200, json={"status": "ready", "url": "https://cdn.test/f.pdf"})
    )
    respx.get("https://cdn.test/f.pdf").mock(return_value=httpx.Response(200, content=b"%PDF-1.4 content"))
    outcome = adapter.perform(make_call("poll_print_file", {"ecommerce_order_item_id": "ITEM-1", "download": True}, artifacts=tmp_path))
    assert outcome.result is not None
    artifact = outcome.result["artifact"]
    import hashlib

    assert artifact["size"] == 16 and artifact["sha256"] == hashlib.sha256(b"%PDF-1.4 content").hexdigest()
    assert Path(artifact["path"]).read_bytes() == b"%PDF-1.4 content"
    assert not list(Path(artifact["path"]).parent.glob("*.part"))
