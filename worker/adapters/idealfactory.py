"""Ideal Factory OMS (API v1, seed 002): orders, updates, deletes, print-file polling.

- Auth: ``Authorization: Bearer`` with the configured token. ``store_id`` comes from the
  payload, else from ``PRINTRELAY_IDEALFACTORY__STORE_ID`` (checked at enqueue).
- ``template_config`` is a URL-encoded JSON string. A JSON object from the producer is encoded
  at enqueue; a string is accepted only if it decodes to JSON.
- ``submit_order`` is not idempotent, and whether a second order with the same
  ``ecommerce_order_id`` is refused is unknown (PROVIDERS.md); there is no documented lookup by
  it either, so an ambiguous submit goes to ``needs_review``.
- ``update_order`` is a PUT: repeatable. ``cancel_order`` is a DELETE whose repeat answers 404,
  so after a lost answer it is *reconciled*: ``GET`` the order, and a 404 means it is gone.
- ``poll_print_file``: ``received``/``processing`` are pending, ``ready`` is done with
  ``{"status", "url"}``, ``processingfailed`` fails with that code. With ``"download": true``
  the file is stored under the artifact directory with its size and SHA-256.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Literal
from urllib.parse import quote, unquote, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator, model_validator

from config.provider_settings import ProviderSettings
from worker.adapters.auth import bearer
from worker.adapters.base import Adapter, Call, document, require, unwrap
from worker.adapters.registry import Provider, SandboxSpec
from worker.artifacts import download
from worker.http import describe, json_body, unreadable
from worker.outcome import Outcome, StoredFile

#: The live API base URL (PRINTRELAY_IDEALFACTORY__BASE_URL overrides it).
# Ideal Factory publishes no host: it must be configured (PRINTRELAY_IDEALFACTORY__BASE_URL).
LIVE_URL = "https://oms.idealfactory.invalid"


class IdealfactorySettings(ProviderSettings):
    base_url: str = LIVE_URL
    token: SecretStr | None = None
    store_id: str | None = None


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


def decode_template_config(value: str) -> Any:
    """The JSON inside a URL-encoded ``template_config``; ValueError if there is none."""
    try:
        return json.loads(unquote(value))
    except ValueError:
        raise ValueError("must be a JSON object, or a URL-encoded JSON string") from None


class Item(_Open):
    # Seed 002's item table marks these "Required: Yes"; their values are Ideal Factory's to judge.
    ecommerce_order_item_id: str
    ecommerce_variant_id: str
    quantity: int
    # Seed 002: "Template config generated from customiser. It's urlencoded json string".
    template_config: dict[str, Any] | list[Any] | str
    thumbnails: list[str]

    @field_validator("template_config")
    @classmethod
    def _json(cls, value: Any) -> Any:
        if isinstance(value, str):
            decode_template_config(value)
        return value


class Address(_Open):
    # Seed 002's address table: required fields, and "Type of address ('billing' or 'shipping')".
    type_id: Literal["billing", "shipping"]
    address_1: str
    post_code: str
    city: str
    country_code: str


class ShippingLine(_Open):
    # Seed 002's shipping table: both "Required: Yes".
    code: str
    shipping_price: float


class SubmitOrder(_Open):
    # Seed 002: store_id, items and ecommerce_order_id are "Required: Yes"; store_id may come
    # from the settings ("We manually create and assign store IDs for each client").
    store_id: str | None = None
    ecommerce_order_id: str
    items: list[Item]
    addresses: list[Address] | None = None
    shippings: list[ShippingLine] | None = None
    create_print_files: bool | None = None

    @model_validator(mode="after")
    def _store(self, info: ValidationInfo) -> SubmitOrder:
        settings = (info.context or {}).get("settings")
        if not self.store_id and not getattr(settings, "store_id", None):
            raise ValueError("store_id is required: in the payload or as PRINTRELAY_IDEALFACTORY__STORE_ID")
        return self


class UpdateOrder(_Open):
    order_uid: str = Field(min_length=1)
    items: list[Item] | None = None
    addresses: list[Address] | None = None
    shippings: list[ShippingLine] | None = None


class OrderUid(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_uid: str = Field(min_length=1)  # a path segment cannot be empty


class PollPrintFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ecommerce_order_item_id: str = Field(min_length=1)  # a path segment cannot be empty
    download: bool = False


class IdealfactoryAdapter(Adapter[IdealfactorySettings]):
    name = "idealfactory"
    payloads = {
        "submit_order": SubmitOrder,
        "update_order": UpdateOrder,
        "cancel_order": OrderUid,
        "poll_print_file": PollPrintFile,
        "track_order": OrderUid,
    }
    idempotent = frozenset({"update_order", "poll_print_file", "track_order"})
    reconcilable = frozenset({"cancel_order"})
    # seed 002: "ecommerce_order_id | ID of the order in your ecommerce system", its number and
    # item ids; "customer" (e-mail, name, surname, phone) and "addresses"
    payload_references = (
        *Adapter.payload_references,
        "ecommerce_order_id",
        "ecommerce_order_number",
        "ecommerce_order_item_id",
        "items[].ecommerce_order_item_id",
    )
    result_references = (*Adapter.result_references, "item_uids.*")
    customer_data = ("customer", "addresses")

    def normalize(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Encode ``template_config`` objects once, at enqueue, so the stored payload is what is sent."""
        if kind in ("submit_order", "update_order") and isinstance(payload.get("items"), list):
            items = []
            for item in payload["items"]:
                config = item.get("template_config") if isinstance(item, dict) else None
                if isinstance(config, dict | list):
                    item = {**item, "template_config": quote(json.dumps(config, separators=(",", ":")), safe="")}
                items.append(item)
            payload = {**payload, "items": items}
        return payload

    def auth(self, settings: IdealfactorySettings, remember: Callable[[str], None]) -> httpx.Auth:
        return bearer(settings.base_url, lambda: settings.token, "PRINTRELAY_IDEALFACTORY__TOKEN")

    # -- kinds ---------------------------------------------------------------------------

    def submit_order(self, call: Call[IdealfactorySettings]) -> Outcome:
        store_id = call.payload.get("store_id") or require(call.settings.store_id, "PRINTRELAY_IDEALFACTORY__STORE_ID")
        response = self.exchange(call, "POST", "/api/v1/orders", idempotent=False, json={**call.payload, "store_id": store_id})
        order = document(response, idempotent=False, expected="the created order")
        if not order.get("uid"):
            return unreadable(response, idempotent=False, expected="the created order")
        item_uids = {str(i.get("ecommerce_order_item_id")): i.get("uid") for i in order.get("items", []) if isinstance(i, dict)}
        return Outcome.done({"order_uid": order["uid"], "item_uids": item_uids}, http_status=response.status_code).with_request(
            describe(response.request)
        )

    def update_order(self, call: Call[IdealfactorySettings]) -> Outcome:
        uid = call.payload["order_uid"]
        body = {k: v for k, v in call.payload.items() if k != "order_uid"}
        response = self.exchange(call, "PUT", f"/api/v1/orders/{uid}", idempotent=True, json=body)
        order = json_body(response)
        return Outcome.done({"order_uid": uid, "order": order if isinstance(order, dict) else None}, http_status=response.status_code)

    def cancel_order(self, call: Call[IdealfactorySettings]) -> Outcome:
        uid = call.payload["order_uid"]
        if call.reconcile and self.exchange(call, "GET", f"/api/v1/orders/{uid}", idempotent=True, accept=(404,)).status_code == 404:
            return Outcome.done(
                {"order_uid": uid, "deleted": True}, http_status=404, note="the order was already deleted by an earlier attempt"
            )
        response = self.exchange(call, "DELETE", f"/api/v1/orders/{uid}", idempotent=False)
        return Outcome.done({"order_uid": uid, "deleted": True}, http_status=response.status_code)

    def poll_print_file(self, call: Call[IdealfactorySettings]) -> Outcome:
        item_id = call.payload["ecommerce_order_item_id"]
        response = self.exchange(call, "GET", f"/api/v1/order-items/{quote(item_id, safe='')}/print", idempotent=True)
        body = json_body(response)
        status = body.get("status") if isinstance(body, dict) else None
        if status in ("received", "processing"):
            return Outcome.pending(f"the print file is {status}", http_status=200)
        if status == "processingfailed":
            return Outcome.permanent("processingfailed", f"Ideal Factory could not make the print file of {item_id}", http_status=200)
        if status != "ready" or not isinstance(body, dict) or not body.get("url"):
            return unreadable(response, idempotent=True, expected="a print-file status")
        result: dict[str, Any] = {"status": "ready", "url": body["url"]}
        if not call.payload.get("download"):
            return Outcome.done(result, http_status=200)
        name = urlsplit(str(body["url"])).path.rsplit("/", 1)[-1] or "print-file"
        destination = call.artifact_dir / "idealfactory" / f"{_safe(item_id)}-{_safe(name)}"
        stored = unwrap(download(call.client, call.client.build_request("GET", str(body["url"])), destination))
        return Outcome.done({**result, "artifact": stored}, http_status=200, artifact=StoredFile.of(stored))

    def track_order(self, call: Call[IdealfactorySettings]) -> Outcome:
        uid = call.payload["order_uid"]
        order = document(self.exchange(call, "GET", f"/api/v1/orders/{uid}", idempotent=True), idempotent=True, expected="an order")
        return Outcome.done({"order_uid": uid, "order": order}, http_status=200)

    # -- the provider's error map ---------------------------------------------------------

    status_codes = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "order_not_found"}

    def refusal(self, response: httpx.Response) -> Outcome:
        outcome = super().refusal(response)
        if response.status_code == 404 and "/order-items/" in response.request.url.path:
            return replace(outcome, error_code="order_item_not_found")
        return outcome


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:100]


PROVIDER = Provider(
    name="idealfactory",
    adapter=IdealfactoryAdapter(),
    settings=IdealfactorySettings,
    base_url=LIVE_URL,
    # Unpublished (PROVIDERS.md): a conservative 5 requests a second, sustained.
    rate_limits={"default": (300, 60.0)},
    sandbox=SandboxSpec(
        prefix="/idealfactory",
        app="sandbox.idealfactory:create_idealfactory",
        state="sandbox.idealfactory:IdealfactoryState",
        settings=lambda base_url, tag: {"base_url": base_url, "token": f"if_{tag}", "store_id": "store-1"},
        controls="sandbox.idealfactory:controls",
    ),
    order=30,
)
