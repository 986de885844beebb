"""PrintNow Enterprise API (v2, seed 003): print-file downloads, status and shipping updates.

Here the shop is the provider of orders: printrelay fetches print-ready files and reports
status back.

- Auth: HTTP Basic ``token:key`` (:class:`~worker.adapters.auth.LazyBasicAuth`). Every authentication or licence failure is a 401 with a
  message: a permanent ``unauthorized`` carrying it.
- ``poll_print_file``: ``GET /order/{id}/download[/{itemId}]`` (or ``/assets/{itemId}``). A 409
  with ``Retry-After`` means the files are still being merged: ``pending``, waited exactly that
  long, no attempt counted. A 200 streams the ZIP to the artifact directory under a temporary
  name, checks that it opens as a ZIP, and only then renames it; a truncated or corrupt ZIP is a
  ``transient`` failure and is never stored. The result is ``{"artifact": {path, sha256, size}}``.
- ``update_status``: ``PATCH /order/{id}/status[/{itemId}]`` with the seed's body, or
  ``PATCH /order/{id}/shipped[/{itemId}]`` with an optional tracking number. 204 is done. Both are
  repeatable by the seed's own rules (a status is a target; tracking numbers are appended
  without duplicates). A 400 from ``shipped`` is ``no_shipped_status``; 404s are
  ``order_not_found`` / ``item_not_found``.
- ``track_order``: ``GET /order/{id}``; the result keeps status, items with their statuses, and
  the shipping fields.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, model_validator

from config.provider_settings import ProviderSettings
from worker.adapters.auth import LazyBasicAuth
from worker.adapters.base import Adapter, Call, document, require
from worker.adapters.registry import Provider, SandboxSpec
from worker.artifacts import download, zip_problem
from worker.http import describe, error_message
from worker.outcome import Outcome, StoredFile
from worker.waiting.headers import parse_retry_after

OrderId = int | str
SHIPPING_FIELDS = ("shipping_address", "shipping_provider", "shipping_service", "shipped_on", "shipping_total")


#: The live API base URL (PRINTRELAY_PRINTNOW__BASE_URL overrides it).
LIVE_URL = "https://api.printnow.com/api/v2"


class PrintnowSettings(ProviderSettings):
    base_url: str = LIVE_URL
    token: SecretStr | None = None
    key: SecretStr | None = None


class PollPrintFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_id: OrderId
    item_id: OrderId | None = None
    assets: bool = False

    @model_validator(mode="after")
    def _assets_need_an_item(self) -> PollPrintFile:
        # Seed 003: assets exist only per item: ``GET /api/v2/order/{orderId}/assets/{itemId}``.
        if self.assets and self.item_id is None:
            raise ValueError("assets are downloaded per item: give item_id")
        return self


class UpdateStatus(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_id: OrderId
    item_id: OrderId | None = None
    shipped: bool | None = None
    order_status: str | None = None
    comments: str | None = None
    tracking_number: str | None = None
    user_initials: str | None = None
    notify_customer: bool | None = None
    notify_vendor: bool | None = None

    @model_validator(mode="after")
    def _one_of(self) -> UpdateStatus:
        # Seed 003: two endpoints, "Mark … Shipped" (body: an optional tracking_number only)
        # and "Update … Status" (order_status "Required: Yes", plus comments, notifications).
        if bool(self.shipped) == (self.order_status is not None):
            raise ValueError('give either "shipped": true or an "order_status"')
        if self.shipped and any(v is not None for v in (self.comments, self.user_initials, self.notify_customer, self.notify_vendor)):
            raise ValueError("marking shipped takes only tracking_number; use order_status for comments and notifications")
        return self


class TrackOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_id: OrderId


class PrintnowAdapter(Adapter[PrintnowSettings]):
    name = "printnow"
    payloads = {"poll_print_file": PollPrintFile, "update_status": UpdateStatus, "track_order": TrackOrder}
    idempotent = frozenset({"poll_print_file", "update_status", "track_order"})

    def auth(self, settings: PrintnowSettings, remember: Callable[[str], None]) -> httpx.Auth:
        """HTTP Basic ``token:key`` (PROVIDERS.md)."""

        def credentials() -> tuple[str, str]:
            token = require(settings.token, "PRINTRELAY_PRINTNOW__TOKEN").get_secret_value()
            return token, require(settings.key, "PRINTRELAY_PRINTNOW__KEY").get_secret_value()

        return LazyBasicAuth(settings.base_url, credentials)

    def poll_print_file(self, call: Call[PrintnowSettings]) -> Outcome:
        order_id, item_id = call.payload["order_id"], call.payload.get("item_id")
        if call.payload.get("assets"):
            path, name = f"/order/{order_id}/assets/{item_id}", f"item-assets-{item_id}.zip"
        elif item_id is not None:
            path, name = f"/order/{order_id}/download/{item_id}", f"item-{item_id}.zip"
        else:
            path, name = f"/order/{order_id}/download", f"order-{order_id}.zip"
        url = call.settings.base_url.rstrip("/") + path
        request = call.client.build_request("GET", url, headers={"Accept": "application/zip"})
        destination = call.artifact_dir / "printnow" / f"order-{order_id}" / name
        stored = download(call.client, request, destination, check=zip_problem, refused=lambda r: self.outcome_of(r, idempotent=True))
        if isinstance(stored, Outcome):
            return stored.with_request(describe(request))
        return Outcome.done({"artifact": stored}, http_status=200, artifact=StoredFile.of(stored)).with_request(describe(request))

    def update_status(self, call: Call[PrintnowSettings]) -> Outcome:
        payload = call.payload
        suffix = f"/{payload['item_id']}" if payload.get("item_id") is not None else ""
        if payload.get("shipped"):
            path = f"/order/{payload['order_id']}/shipped{suffix}"
            body = {"tracking_number": payload["tracking_number"]} if payload.get("tracking_number") else None
        else:
            path = f"/order/{payload['order_id']}/status{suffix}"
            body = {
                k: payload[k]
                for k in ("order_status", "comments", "tracking_number", "user_initials", "notify_customer", "notify_vendor")
                if payload.get(k) is not None
            }
        response = self.exchange(call, "PATCH", path, idempotent=True, accept=(400,) if payload.get("shipped") else (), json=body)
        if response.status_code == 400:  # seed 003: the storefront has no "Order Shipped" status
            return Outcome.permanent("no_shipped_status", 'the storefront has no "Order Shipped" status configured', http_status=400)
        what = "shipped" if payload.get("shipped") else payload["order_status"]
        return Outcome.done(
            {"order_id": payload["order_id"], "item_id": payload.get("item_id"), "status": what}, http_status=response.status_code
        )

    def track_order(self, call: Call[PrintnowSettings]) -> Outcome:
        response = self.exchange(call, "GET", f"/order/{call.payload['order_id']}", idempotent=True)
        order = document(response, idempotent=True, expected="an order")
        items = [
            {k: item.get(k) for k in ("id", "name", "status", "quantity", "due_on")}
            for item in order.get("items", [])
            if isinstance(item, dict)
        ]
        result = {"order_id": order.get("id"), "status": order.get("status"), "items": items, **{k: order.get(k) for k in SHIPPING_FIELDS}}
        return Outcome.done(result, http_status=200)

    # -- the provider's error map ---------------------------------------------------------

    def special(self, response: httpx.Response) -> Outcome | None:
        """A 409 with Retry-After means "files not merged yet" (seed 003): pending, polled again
        after exactly that long; read before any generic meaning of the status."""
        if response.status_code != 409:
            return None
        wait = parse_retry_after(response.headers.get("retry-after"))
        return Outcome.pending(error_message(response), http_status=409, retry_after=wait)

    def refusal(self, response: httpx.Response) -> Outcome:
        """401: any authentication or licence failure; 404 names what is missing (seed 003)."""
        status, message = response.status_code, error_message(response)
        if status == 404:
            return Outcome.permanent("item_not_found" if "item" in message.lower() else "order_not_found", message, http_status=404)
        code = {400: "bad_request", 401: "unauthorized"}.get(status, f"http_{status}")
        return Outcome.permanent(code, message, http_status=status)


PROVIDER = Provider(
    name="printnow",
    adapter=PrintnowAdapter(),
    settings=PrintnowSettings,
    base_url=LIVE_URL,
    # Unpublished (PROVIDERS.md): a conservative 5 requests a second, sustained.
    rate_limits={"default": (300, 60.0)},
    sandbox=SandboxSpec(
        prefix="/printnow/api/v2",
        app="sandbox.printnow:create_printnow",
        state="sandbox.printnow:PrintnowState",
        settings=lambda base_url, tag: {"base_url": base_url, "token": f"pn_{tag}", "key": "pn-key-123"},
        controls="sandbox.printnow:controls",
    ),
    order=40,
)
