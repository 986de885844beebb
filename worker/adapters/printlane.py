"""Printlane (API 2023-10, seed 004): signed order pushes that retry until a 2xx.

- **Signing**: ``X-Printlane-Store``, ``X-Printlane-Api-Key`` and ``X-Printlane-Api-Signature``,
  the lowercase hex HMAC-SHA256 of store id + order id with the API secret, computed here; the
  secret never leaves the settings.
- **Every property is required** (since 2022-08). At enqueue, missing properties that may be
  empty are filled with ``""`` (``email``, ``firstName``, ``lastName``, ``status``, and every
  field of ``billingDetails``/``shippingDetails``); ``domain`` defaults from
  ``PRINTRELAY_PRINTLANE__DOMAIN``; ``created``/``updated`` must be ISO-8601 (filled with the
  enqueue time when missing); line items need integer ``id``, ``token``, integer ``quantity``
  and a numeric ``price``.
- **No designs, no push**: an order without line items ends ``skipped`` with the reason and no
  request (GDPR: Printlane may store only orders with designs).
- **Until a 2xx**: pushes retry transient failures for ``PRINTRELAY_PRINTLANE__PUSH_DEADLINE``
  (7 days) with backoff capped at an hour, every attempt recorded.
- **Converging**: a create refused because the order exists (409) becomes an update; an update
  of an order Printlane does not have (404) becomes a create; deleting what is not there (404)
  is done. Pushes carry the whole order, so repeating one is harmless.
- **Ordering**: create, update and delete jobs of one order carry its ``orderId`` as sequence
  key and run in enqueue order; a delete makes the order's pending updates unnecessary: they
  end ``skipped`` (and so do updates enqueued after it, once it has succeeded).
- Unknown (PROVIDERS.md): the error format (read ``message``/``error``) and the rate limit
  (a conservative 60/min: Printlane asks integrations to spread pushes out).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Generator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, StrictInt, ValidationInfo, field_validator, model_validator

from config.provider_settings import ProviderSettings
from worker.adapters.auth import in_scope
from worker.adapters.base import Adapter, Call, require
from worker.adapters.registry import Provider, SandboxSpec
from worker.http import describe
from worker.outcome import Outcome

DETAIL_FIELDS = (
    "address1",
    "address2",
    "city",
    "companyName",
    "country",
    "countryCode",
    "firstName",
    "lastName",
    "phone",
    "province",
    "zip",
)
EMPTY_ALLOWED = ("email", "firstName", "lastName", "status")


#: The live API base URL (PRINTRELAY_PRINTLANE__BASE_URL overrides it).
LIVE_URL = "https://api.printlane.com/2023-10"


class PrintlaneSettings(ProviderSettings):
    base_url: str = LIVE_URL
    store_id: str | None = None
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    domain: str | None = None
    #: Pushes must eventually get a 2xx (seed 004): transient failures retry this long (seconds).
    push_deadline: float = Field(default=7 * 86400.0, gt=0)


def signature(secret: str, store_id: str, order_id: str) -> str:
    """Lowercase hex HMAC-SHA256 of store id + order id (seed 004, "Generating the signature")."""
    return hmac.new(secret.encode(), f"{store_id}{order_id}".encode(), hashlib.sha256).hexdigest()


def _iso(value: str) -> str:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("must be an ISO-8601 date, e.g. 2022-01-31T13:45:08.672Z") from None
    return value


class Details(BaseModel):
    # Seed 004: "All properties are required. Use empty strings for empty values": the listed
    # ones are filled with "" when missing; others pass through for Printlane to judge.
    model_config = ConfigDict(extra="allow")
    address1: str = ""
    address2: str = ""
    city: str = ""
    companyName: str = ""
    country: str = ""
    countryCode: str = ""
    firstName: str = ""
    lastName: str = ""
    phone: str = ""
    province: str = ""
    zip: str = ""


class LineItem(BaseModel):
    # Seed 004's line item table: ``id`` int, ``token`` string, ``quantity`` int, ``price`` double.
    model_config = ConfigDict(extra="allow")
    id: StrictInt
    token: str
    quantity: StrictInt
    price: float


class Order(BaseModel):
    model_config = ConfigDict(extra="allow")
    # Seed 004: orderId is "the Order ID used in your online store"; it is also a path segment.
    orderId: str = Field(min_length=1)
    # Seed 004, 2022-08: "added required property domain" (defaulted from the settings).
    domain: str | None = None
    billingDetails: Details = Field(default_factory=Details)
    shippingDetails: Details = Field(default_factory=Details)
    # Seed 004: "Dates are formatted in ISO-8601 format".
    created: str | None = None
    updated: str | None = None
    email: str = ""
    firstName: str = ""
    lastName: str = ""
    status: str = ""
    lineItems: list[LineItem]

    @field_validator("created", "updated")
    @classmethod
    def _dates(cls, value: str | None) -> str | None:
        return _iso(value) if value is not None else None

    @model_validator(mode="after")
    def _domain(self, info: ValidationInfo) -> Order:
        settings = (info.context or {}).get("settings")
        if not self.domain and not getattr(settings, "domain", None):
            raise ValueError("domain is required: in the order or as PRINTRELAY_PRINTLANE__DOMAIN")
        return self


class DeleteOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_id: str = Field(min_length=1)


class PrintlaneAdapter(Adapter[PrintlaneSettings]):
    name = "printlane"
    payloads = {"submit_order": Order, "update_order": Order, "cancel_order": DeleteOrder}
    # Every push carries the whole order and deleting twice changes nothing: all repeatable.
    idempotent = frozenset({"submit_order", "update_order", "cancel_order"})
    supersedes = {"cancel_order": ("update_order",)}
    # seed 004: "orderId | the Order ID used in your online store"; the customer's e-mail and
    # names, billing and shipping details; a line item's "token" gives access to the design
    payload_references = (*Adapter.payload_references, "orderId")
    customer_data = ("email", "firstName", "lastName", "billingDetails", "shippingDetails")
    secret_fields = ("lineItems[].token",)

    def sequence_key(self, kind: str, payload: dict[str, Any]) -> str | None:
        return str(payload.get("order_id") if kind == "cancel_order" else payload.get("orderId"))

    def policy_defaults(self, kind: str, settings: PrintlaneSettings) -> Mapping[str, float] | None:
        return {"deadline": settings.push_deadline, "max_attempts": 1_000_000, "cap": 3600.0}

    def normalize(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Fill what the 2023-10 rules require but the producer may leave out (the enqueue time
        for missing dates). ``domain`` is filled at send time, from the worker's settings."""
        if kind == "cancel_order":
            return payload
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        order = {**payload}
        for name in EMPTY_ALLOWED:
            order.setdefault(name, "")
        for name in ("created", "updated"):
            order.setdefault(name, now)
        for details in ("billingDetails", "shippingDetails"):
            order[details] = {name: "" for name in DETAIL_FIELDS} | dict(order.get(details) or {})
        return order

    def auth(self, settings: PrintlaneSettings, remember: Callable[[str], None]) -> httpx.Auth:
        return PrintlaneSigner(settings)

    # -- kinds ---------------------------------------------------------------------------

    def submit_order(self, call: Call[PrintlaneSettings]) -> Outcome:
        return self._push(call, create=True)

    def update_order(self, call: Call[PrintlaneSettings]) -> Outcome:
        return self._push(call, create=False)

    def cancel_order(self, call: Call[PrintlaneSettings]) -> Outcome:
        order_id = call.payload["order_id"]
        response = self.exchange(call, "DELETE", f"/orders/{order_id}", idempotent=True, accept=(404,))
        if response.status_code == 404:
            return Outcome.done(
                {"order_id": order_id, "deleted": True}, http_status=404, note="Printlane does not have the order (already deleted)"
            )
        return Outcome.done({"order_id": order_id, "deleted": True}, http_status=response.status_code)

    # -- plumbing ------------------------------------------------------------------------

    def _push(self, call: Call[PrintlaneSettings], *, create: bool) -> Outcome:
        order = {**call.payload}
        order["domain"] = order.get("domain") or require(call.settings.domain, "PRINTRELAY_PRINTLANE__DOMAIN")
        order_id = str(order["orderId"])
        if not order.get("lineItems"):
            return Outcome.skip("the order has no designs (no line items): Printlane may store only orders with designs, so it is not sent")
        first, second = "/orders", f"/orders/{order_id}"
        if not create:
            first, second = second, first
        # Converging: a create of an order Printlane has (409) becomes an update, an update of one
        # it lacks (404) a create; both carry the whole order.
        diverged = 409 if create else 404
        response = self.exchange(call, "POST", first, idempotent=True, accept=(diverged,), json=order)
        note = None
        if response.status_code == diverged:
            note = "the order already existed: updated instead" if create else "Printlane did not have the order: created instead"
            response = self.exchange(call, "POST", second, idempotent=True, json=order)
        return Outcome.done({"order_id": order_id}, http_status=response.status_code, note=note).with_request(describe(response.request))

    # -- the provider's error map (unknown: PROVIDERS.md; read message/error) ---------------

    status_codes = {400: "invalid_order", 401: "unauthorized", 403: "forbidden", 404: "order_not_found", 409: "order_exists"}


class PrintlaneSigner(httpx.Auth):
    """``X-Printlane-Store``, ``X-Printlane-Api-Key`` and ``X-Printlane-Api-Signature`` (the HMAC of
    store id + order id) on every request to Printlane. The order id is read from the request:
    the path's ``/orders/{orderId}``, else the body's ``orderId`` (a create)."""

    requires_request_body = True

    def __init__(self, settings: PrintlaneSettings) -> None:
        self.settings = settings

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if in_scope(request, self.settings.base_url):
            store = require(self.settings.store_id, "PRINTRELAY_PRINTLANE__STORE_ID")
            key = require(self.settings.api_key, "PRINTRELAY_PRINTLANE__API_KEY").get_secret_value()
            secret = require(self.settings.api_secret, "PRINTRELAY_PRINTLANE__API_SECRET").get_secret_value()
            request.headers.update(
                {
                    "X-Printlane-Store": store,
                    "X-Printlane-Api-Key": key,
                    "X-Printlane-Api-Signature": signature(secret, store, _order_id(request)),
                }
            )
        yield request


def _order_id(request: httpx.Request) -> str:
    tail = request.url.path.rstrip("/").rsplit("/orders/", 1)
    if len(tail) == 2 and tail[1]:
        return unquote(tail[1])
    try:
        body = json.loads(request.content or b"{}")
    except ValueError:
        body = {}
    return str(body.get("orderId", "")) if isinstance(body, dict) else ""


PROVIDER = Provider(
    name="printlane",
    adapter=PrintlaneAdapter(),
    settings=PrintlaneSettings,
    base_url=LIVE_URL,
    # Printlane asks integrations to spread pushes out: one a second.
    rate_limits={"default": (60, 60.0)},
    sandbox=SandboxSpec(
        prefix="/printlane/2023-10",
        app="sandbox.printlane:create_printlane",
        state="sandbox.printlane:PrintlaneState",
        settings=lambda base_url, tag: {
            "base_url": base_url,
            "store_id": f"store-{tag[-12:]}",
            "api_key": "pl-key-123",
            "api_secret": "pl-secret-456",
            "domain": "shop.example",
        },
        controls="sandbox.printlane:controls",
    ),
    order=50,
)
