"""Print API (printapi.nl v2, seed 001): OAuth, orders with a client id, uploads, polling.

- **Auth**: OAuth 2 client credentials at ``{base}/oauth`` (:class:`~worker.adapters.auth.OAuthClientCredentials`).
  One token per account and process, refreshed a minute before it expires and once on a 401; a
  second 401 is a permanent ``unauthorized``. Tokens go to the runtime's redactor: they never
  reach an attempt row or a log line.
- **``submit_order``** always sends an ``id``: the producer's, else one derived from the
  idempotency key, else the job id — the same on every attempt. An ambiguous submit (answer
  lost) is therefore *reconciled*: the next attempt asks ``GET /orders/{id}`` first and only
  submits if the order is not there. A 409 for a taken id outside reconciliation is a
  permanent ``duplicate_order_id`` (the id belongs to another order).
- **``upload_image``** POSTs the raw bytes to the item's ``uploadUrl`` (from the payload, or
  read from the order) with the content type sniffed from the bytes (PDF, JPEG, PNG).
  Uploading again replaces the file: safe to repeat.
- **``poll_print_file``**: every file ``Accepted`` → done with ``files``; any ``DownloadFailed``
  → failed with that code; anything else → pending, polled again after the poll interval.
- Unknown (PROVIDERS.md): the error body's shape (read ``message``/``Message``/``error``) and
  the status of a duplicate id (taken to be 409; a 400 naming the id is treated the same).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from config.provider_settings import ProviderSettings
from worker.adapters.auth import OAuthClientCredentials
from worker.adapters.base import Adapter, Call, document, require, unwrap
from worker.adapters.registry import Provider, SandboxSpec
from worker.http import describe, unreadable
from worker.outcome import Outcome
from worker.sources import read_source, sniff

ACCEPTED, FAILED = "Accepted", "DownloadFailed"


#: The live API base URL (PRINTRELAY_PRINTAPI__BASE_URL overrides it).
LIVE_URL = "https://live.printapi.nl/v2"


class PrintapiSettings(ProviderSettings):
    base_url: str = LIVE_URL
    client_id: str | None = None
    client_secret: SecretStr | None = None


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Shipping(_Open):
    # Seed 001: "You must include at least one item and a shipping address." The address's
    # own fields are shown in an example only: Print API decides what a usable address is.
    address: dict[str, Any]


class Item(_Open):
    pass


class SubmitOrder(_Open):
    # Seed 001's property table: the lengths below are its "Length: 0-N, inclusive".
    id: str | None = Field(default=None, max_length=36)
    email: str | None = Field(default=None, max_length=254)
    username: str | None = Field(default=None, max_length=64)
    coupon: str | None = Field(default=None, max_length=64)
    metadata: str | None = Field(default=None, max_length=4092)
    # Seed 001: "You must include at least one item and a shipping address."
    items: list[Item] = Field(min_length=1)
    shipping: Shipping


class UploadImage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(min_length=1)
    # Path segments cannot be empty; an order id is at most 36 characters (seed 001, "Id").
    order_id: str = Field(min_length=1, max_length=36)
    item_id: str = Field(min_length=1)
    # Seed 001: an item's ``files`` has ``content`` and ``cover``.
    file: Literal["content", "cover"] = "content"
    upload_url: str | None = None


class OrderRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # A path segment cannot be empty; seed 001: an order id is "Length: 0-36".
    order_id: str = Field(min_length=1, max_length=36)


def order_id_for(call: Call[PrintapiSettings]) -> str:
    """The order's id, the same on every attempt of the job (at most 36 characters)."""
    given = call.payload.get("id")
    if isinstance(given, str) and given:
        return given
    if call.idempotency_key:
        return "pr-" + hashlib.sha256(call.idempotency_key.encode()).hexdigest()[:32]
    return call.job_id


class PrintapiAdapter(Adapter[PrintapiSettings]):
    name = "printapi"
    payloads = {"submit_order": SubmitOrder, "upload_image": UploadImage, "poll_print_file": OrderRef, "track_order": OrderRef}
    idempotent = frozenset({"upload_image", "poll_print_file", "track_order"})
    reconcilable = frozenset({"submit_order"})
    # seed 001: "Id | Optional custom order ID"; the customer's e-mail and username, and the
    # shipping address
    payload_references = (*Adapter.payload_references, "id")
    customer_data = ("email", "username", "shipping.address")
    # PROVIDERS.md: "400 invalid input, 401 missing/expired token, 403 not allowed in the current state".
    status_codes = {400: "invalid_input", 401: "unauthorized", 403: "not_allowed", 404: "order_not_found", 409: "conflict"}

    def auth(self, settings: PrintapiSettings, remember: Callable[[str], None]) -> httpx.Auth:
        """OAuth client credentials at ``{base}/oauth``: one token per account and process,
        refreshed a minute before it expires and once on a 401 (PROVIDERS.md)."""

        def credentials() -> tuple[str, str]:
            client_id = require(settings.client_id, "PRINTRELAY_PRINTAPI__CLIENT_ID")
            return client_id, require(settings.client_secret, "PRINTRELAY_PRINTAPI__CLIENT_SECRET").get_secret_value()

        return OAuthClientCredentials(settings.base_url, credentials, provider="Print API", remember=remember)

    def sequence_key(self, kind: str, payload: dict[str, Any]) -> str | None:
        if kind == "submit_order":
            return f"order_id:{payload['id']}" if isinstance(payload.get("id"), str) else None
        return super().sequence_key(kind, payload)

    # -- kinds ---------------------------------------------------------------------------

    def submit_order(self, call: Call[PrintapiSettings]) -> Outcome:
        order_id = order_id_for(call)
        if call.reconcile and (existing := self._get_order(call, order_id, missing_ok=True)) is not None:
            return Outcome.done(_order_result(existing), http_status=200, note=f"order {order_id} was already placed by an earlier attempt")
        body = {**{k: v for k, v in call.payload.items()}, "id": order_id}
        response = self.exchange(call, "POST", "/orders", idempotent=False, accept=(409,), json=body)
        if response.status_code == 409:
            return Outcome.permanent("duplicate_order_id", f"Print API already has an order with id {order_id!r}", http_status=409)
        order = document(response, idempotent=False, expected="the created order")
        if not order.get("id"):
            return unreadable(response, idempotent=False, expected="the created order")
        return Outcome.done(_order_result(order), http_status=response.status_code).with_request(describe(response.request))

    def upload_image(self, call: Call[PrintapiSettings]) -> Outcome:
        payload = {"file": "content", **call.payload}
        url = payload.get("upload_url")
        if not url:
            order = self._get_order(call, payload["order_id"])
            assert order is not None
            file = _file(order, payload["item_id"], payload["file"])
            if file is None:
                return Outcome.permanent(
                    "file_not_found", f"order {payload['order_id']} has no {payload['file']} file for item {payload['item_id']}"
                )
            if file.get("status") in (ACCEPTED, "UploadInProgress"):
                return Outcome.done(_upload_result(payload, file["status"]), note="the file was already uploaded")
            url = file.get("uploadUrl")
            if not url:
                return Outcome.permanent("not_awaiting_upload", f"the file is {file.get('status')}, not awaiting an upload")
        data = unwrap(read_source(payload["source"], call.client))
        media_type = sniff(data)
        if media_type is None:
            return Outcome.permanent("unsupported_file_format", "Print API accepts PDF, JPEG and PNG files (checked by content)")
        response = self.exchange(call, "POST", str(url), idempotent=True, content=data, headers={"Content-Type": media_type})
        return Outcome.done(_upload_result(payload, "uploaded"), http_status=response.status_code).with_request(describe(response.request))

    def poll_print_file(self, call: Call[PrintapiSettings]) -> Outcome:
        order = self._get_order(call, call.payload["order_id"])
        assert order is not None
        files = {
            f"{item.get('id')}/{name}": {"status": spec.get("status"), **{k: v for k, v in spec.items() if k != "status"}}
            for item in order.get("items", [])
            for name, spec in (item.get("files") or {}).items()
            if isinstance(spec, dict)
        }
        if failed := [key for key, spec in files.items() if spec["status"] == FAILED]:
            return Outcome.permanent(FAILED, f"Print API could not download {', '.join(failed)}", http_status=200)
        if files and all(spec["status"] == ACCEPTED for spec in files.values()):
            return Outcome.done({"files": files}, http_status=200)
        waiting = sorted({str(spec["status"]) for spec in files.values() if spec["status"] != ACCEPTED}) or ["no files yet"]
        return Outcome.pending(f"files not accepted yet: {', '.join(waiting)}", http_status=200)

    def track_order(self, call: Call[PrintapiSettings]) -> Outcome:
        order = self._get_order(call, call.payload["order_id"])
        assert order is not None
        result = {"order_id": order.get("id"), "status": order.get("status")}
        if order.get("trackingUrl"):
            result["trackingUrl"] = order["trackingUrl"]
        return Outcome.done(result, http_status=200)

    # -- plumbing ------------------------------------------------------------------------

    def _get_order(self, call: Call[PrintapiSettings], order_id: str, *, missing_ok: bool = False) -> dict[str, Any] | None:
        """The order, or ``None`` for a 404 when ``missing_ok`` (reconciling: was it placed?)."""
        response = self.exchange(call, "GET", f"/orders/{order_id}", idempotent=True, accept=(404,) if missing_ok else ())
        if response.status_code == 404:
            return None
        return document(response, idempotent=True, expected="an order")


def _file(order: dict[str, Any], item_id: str, name: str) -> dict[str, Any] | None:
    for item in order.get("items", []):
        if str(item.get("id")) == str(item_id):
            spec = (item.get("files") or {}).get(name)
            return spec if isinstance(spec, dict) else None
    return None


def _order_result(order: dict[str, Any]) -> dict[str, Any]:
    return {
        "order_id": order.get("id"),
        "status": order.get("status"),
        "items": [
            {"id": item.get("id"), "productId": item.get("productId"), "files": item.get("files") or {}} for item in order.get("items", [])
        ],
    }


def _upload_result(payload: dict[str, Any], status: str) -> dict[str, Any]:
    return {"order_id": payload["order_id"], "item_id": payload["item_id"], "file": payload["file"], "status": status}


PROVIDER = Provider(
    name="printapi",
    adapter=PrintapiAdapter(),
    settings=PrintapiSettings,
    base_url=LIVE_URL,
    # Unpublished (PROVIDERS.md): a conservative 5 requests a second, sustained.
    rate_limits={"default": (300, 60.0)},
    sandbox=SandboxSpec(
        prefix="/printapi/v2",
        app="sandbox.printapi:create_printapi",
        state="sandbox.printapi:PrintapiState",
        settings=lambda base_url, tag: {"base_url": base_url, "client_id": f"client-{tag[-12:]}", "client_secret": "cs_test_secret"},
        controls="sandbox.printapi:controls",
    ),
    order=20,
)
