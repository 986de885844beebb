"""The Printlane adapter: the signature, the required-property rules, skips and convergence."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from config.settings import Settings
from tests.fakes import DictMemo
from worker.adapters.base import Call
from worker.adapters.printlane import PrintlaneAdapter, PrintlaneSettings, signature
from worker.errors import InvalidPayload
from worker.states import OutcomeKind

BASE = "https://printlane.test/2023-10"
adapter = PrintlaneAdapter()
ORDER = {
    "orderId": "ORD789",
    "email": "john.doe@gmail.com",
    "firstName": "John",
    "lastName": "Doe",
    "status": "Created",
    "created": "2022-04-20T13:45:08.672Z",
    "updated": "2022-04-20T13:45:08.672Z",
    "billingDetails": {"address1": "123 Amoebobacterieae St", "city": "Ottowa", "country": "Canada", "countryCode": "CA"},
    "lineItems": [{"id": 123, "token": "a462a062-7987-4a44-b35f-7009b141fb33", "quantity": 2, "price": 12.5}],
}


def make_call(kind: str, payload: dict[str, Any]) -> Call:
    settings = PrintlaneSettings(
        base_url=BASE, store_id="589adada754c20089ed6cfd8", api_key="key-1", api_secret="s3cr3t-api", domain="shop.example"
    )  # type: ignore[arg-type]
    return Call(
        kind=kind,
        payload=payload,
        account="default",
        settings=settings,
        client=adapter.client(settings, timeout=2),
        memo=DictMemo(),
        job_id="j",
    )


def normalised(payload: dict[str, Any], **settings: Any) -> dict[str, Any]:
    return adapter.validate("submit_order", payload, Settings(_env_file=None, printlane={"domain": "shop.example", **settings}).printlane)  # type: ignore[call-arg]


def test_the_signature_matches_an_independent_computation() -> None:
    # printf '%s' 589adada754c20089ed6cfd8ORD789 | openssl dgst -sha256 -hmac s3cr3t-api
    assert (
        signature("s3cr3t-api", "589adada754c20089ed6cfd8", "ORD789") == "9059e906130b58591a798b2b5da6d5663fd6ec1ebd9892105380cbc279bd28e3"
    )


@respx.mock
def test_a_push_is_signed_and_sends_every_property() -> None:
    route = respx.post(f"{BASE}/orders").mock(return_value=httpx.Response(201, json={}))
    outcome = adapter.perform(make_call("submit_order", normalised(ORDER)))
    assert outcome.result == {"order_id": "ORD789"}
    request = route.calls.last.request
    assert request.headers["X-Printlane-Store"] == "589adada754c20089ed6cfd8"
    assert request.headers["X-Printlane-Api-Key"] == "key-1"
    assert request.headers["X-Printlane-Api-Signature"] == "9059e906130b58591a798b2b5da6d5663fd6ec1ebd9892105380cbc279bd28e3"
    sent = json.loads(request.content)
    assert sent["domain"] == "shop.example"
    assert sent["billingDetails"]["companyName"] == "" and sent["shippingDetails"] == {k: "" for k in sent["shippingDetails"]}
    assert len(sent["shippingDetails"]) == 11


def test_missing_properties_are_filled_and_dates_defaulted() -> None:
    stored = normalised({"orderId": "A1", "lineItems": ORDER["lineItems"]})
    assert (stored["email"], stored["firstName"], stored["status"]) == ("", "", "")
    assert stored["created"].endswith("Z") and stored["updated"] == stored["created"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"created": "20/04/2022"}, "created"),
        ({"lineItems": [{"id": "123", "token": "t", "quantity": 1, "price": 1.0}]}, "lineItems[0].id"),
        ({"lineItems": [{"id": 1, "token": "t", "quantity": 1.5, "price": 1.0}]}, "lineItems[0].quantity"),
        ({"lineItems": [{"id": 1, "quantity": 1, "price": 1.0}]}, "lineItems[0].token"),
        ({"orderId": ""}, "orderId"),
    ],
)
def test_the_required_property_rules(change: dict[str, Any], field: str) -> None:
    """Seed 004: dates "in ISO-8601 format"; line item ``id`` and ``quantity`` are ``int``,
    ``token`` a string (2022-08: "all properties of the order object are now required");
    ``orderId`` names the order in the update and delete paths."""
    with pytest.raises(InvalidPayload) as caught:
        normalised({**ORDER, **change})
    assert caught.value.field == field


def test_properties_the_seed_does_not_list_go_to_printlane_unchanged() -> None:
    """Seed 004 requires its properties; it does not forbid others, nor bound a quantity or
    a token's length: those are Printlane's to judge."""
    order = {
        **ORDER,
        "billingDetails": {**ORDER["billingDetails"], "street": "x"},
        "lineItems": [{"id": 1, "token": "", "quantity": 0, "price": 1.0, "sku": "A"}],
        "note": "gift",
    }
    stored = normalised(order)
    assert stored["billingDetails"]["street"] == "x" and stored["note"] == "gift"
    assert stored["lineItems"][0]["sku"] == "A"


def test_domain_is_required_somewhere() -> None:
    with pytest.raises(InvalidPayload, match="domain"):
        adapter.validate("submit_order", ORDER, Settings(_env_file=None).printlane)  # type: ignore[call-arg]


@respx.mock
def test_an_order_without_designs_is_skipped_without_a_request() -> None:
    route = respx.post(url__regex=".*")
    outcome = adapter.perform(make_call("submit_order", normalised({**ORDER, "lineItems": []})))
    assert outcome.kind is OutcomeKind.DONE and outcome.skipped and "no designs" in (outcome.note or "")
    assert route.call_count == 0


@respx.mock
def test_a_create_of_an_existing_order_becomes_an_update() -> None:
    respx.post(f"{BASE}/orders").mock(return_value=httpx.Response(409, json={"message": "Order already exists"}))
    update = respx.post(f"{BASE}/orders/ORD789").mock(return_value=httpx.Response(200, json={}))
    outcome = adapter.perform(make_call("submit_order", normalised(ORDER)))
    assert outcome.kind is OutcomeKind.DONE and update.called and "updated instead" in (outcome.note or "")


@respx.mock
def test_a_failing_push_is_transient_and_a_refusal_permanent() -> None:
    respx.post(f"{BASE}/orders").mock(return_value=httpx.Response(503, html="<html>down</html>"))
    assert adapter.perform(make_call("submit_order", normalised(ORDER))).kind is OutcomeKind.TRANSIENT
    respx.post(f"{BASE}/orders").mock(return_value=httpx.Response(401, json={"message": "Invalid signature"}))
    outcome = adapter.perform(make_call("submit_order", normalised(ORDER)))
    assert (outcome.kind, outcome.error_code, outcome.error_message) == (OutcomeKind.PERMANENT, "unauthorized", "Invalid signature")


@respx.mock
def test_delete_and_a_delete_of_what_is_gone() -> None:
    route = respx.delete(f"{BASE}/orders/ORD789").mock(
        side_effect=[httpx.Response(204), httpx.Response(404, json={"message": "Order not found"})]
    )
    assert adapter.perform(make_call("cancel_order", {"order_id": "ORD789"})).kind is OutcomeKind.DONE
    assert adapter.perform(make_call("cancel_order", {"order_id": "ORD789"})).kind is OutcomeKind.DONE
    assert route.calls.last.request.headers["X-Printlane-Api-Signature"] == signature("s3cr3t-api", "589adada754c20089ed6cfd8", "ORD789")


def test_pushes_wait_days_and_carry_their_order_as_sequence_key() -> None:
    settings = Settings(_env_file=None, printlane={"push_deadline": 3 * 86400}).printlane  # type: ignore[call-arg]
    assert adapter.policy_defaults("submit_order", settings) == {"deadline": 3 * 86400, "max_attempts": 1_000_000, "cap": 3600.0}
    assert adapter.sequence_key("update_order", ORDER) == "ORD789" == adapter.sequence_key("cancel_order", {"order_id": "ORD789"})


@respx.mock
def test_the_signature_is_of_the_order_in_the_path_or_in_the_body() -> None:
    """The signer reads the order id from the request itself: ``/orders/{id}`` or the body's ``orderId``."""
    created = respx.post(f"{BASE}/orders").mock(return_value=httpx.Response(201))
    deleted = respx.delete(f"{BASE}/orders/ORD%2F7").mock(return_value=httpx.Response(200))
    adapter.perform(make_call("submit_order", normalised({**ORDER, "orderId": "ORD789"})))
    adapter.perform(make_call("cancel_order", {"order_id": "ORD/7"}))
    expected = {"ORD789": created.calls.last.request, "ORD/7": deleted.calls.last.request}
    for order_id, request in expected.items():
        assert request.headers["x-printlane-api-signature"] == signature("s3cr3t-api", "589adada754c20089ed6cfd8", order_id)
