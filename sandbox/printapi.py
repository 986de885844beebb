"""Print API v2 as seed 001 and PROVIDERS.md describe it.

- ``POST /oauth`` (form, client credentials) issues bearer tokens that expire after
  ``token_ttl`` seconds (14399 live; a knob here). Any non-empty client id/secret is accepted
  unless revoked; each client id is its own account.
- ``POST /orders``: the seed's rules (at least one item, a shipping address, the field
  lengths) as 400s; an ``id`` already used by the account is refused with 409; 201 with a
  ``Location`` header and the seed's response shape (items with ids, files, shipping, invoice).
  Items sent with ``files`` get ``DownloadPending`` files that become ``Accepted`` after
  ``download_delay`` seconds (or ``DownloadFailed`` with ``fail_downloads``); items without
  get an ``AwaitingUpload`` content file with an ``uploadUrl``.
- ``POST /files/{token}``: the raw bytes, ``Content-Type`` PDF, JPEG or PNG matching the bytes;
  the file becomes ``Accepted``.
- Order status: ``Created`` → ``Processing`` once every file is accepted → ``Shipped`` (with a
  ``trackingUrl``) ``ship_delay`` seconds later.
- Errors carry ``{"message": …}``: 400 invalid input, 401 missing/expired token, 403 not
  allowed in the current state, 404 unknown order.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

LIMITS = {"id": 36, "email": 254, "username": 64, "coupon": 64, "metadata": 4092}
MAGIC = {"application/pdf": b"%PDF-", "image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}


def message(status: int, text: str) -> JSONResponse:
    return JSONResponse({"message": text}, status_code=status)


@dataclass
class PrintapiState:
    token_ttl: float = 14399.0
    download_delay: float = 2.0
    ship_delay: float = 5.0
    fail_downloads: bool = False
    revoked: set[str] = field(default_factory=set)
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)  # token -> (client id, expiry)
    orders: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # client -> id -> order
    uploads: dict[str, tuple[str, str, str, str]] = field(default_factory=dict)  # token -> (client, order, item, file)
    submits: dict[str, int] = field(default_factory=dict)  # client -> POST /orders received
    oauth_calls: int = 0

    def configure(self, data: dict[str, Any]) -> None:
        for name in ("token_ttl", "download_delay", "ship_delay"):
            if name in data:
                setattr(self, name, float(data[name]))
        if "fail_downloads" in data:
            self.fail_downloads = bool(data["fail_downloads"])
        self.revoked.update(data.get("revoke", []))
        if data.get("expire_tokens"):
            self.tokens = {t: (c, 0.0) for t, (c, _) in self.tokens.items()}


def _refresh(state: PrintapiState, order: dict[str, Any]) -> None:
    """Move files and status on with time."""
    now = time.time()
    files = [spec for item in order["items"] for spec in item["files"].values()]
    for spec in files:
        if spec["status"] == "DownloadPending" and now - order["_created"] >= state.download_delay:
            spec["status"] = "DownloadFailed" if state.fail_downloads else "Accepted"
    if order["status"] == "Created" and files and all(s["status"] == "Accepted" for s in files):
        order["status"], order["_processing_since"] = "Processing", now
    if order["status"] == "Processing" and now - order["_processing_since"] >= state.ship_delay:
        order["status"] = "Shipped"
        order["trackingUrl"] = f"https://tracking.example/printapi/{order['id']}"


def _public(order: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in order.items() if not k.startswith("_")}


def create_printapi(state: PrintapiState) -> Starlette:
    def client_of(request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ").removeprefix("bearer ").strip()
        client, expires = state.tokens.get(token, ("", 0.0))
        return client if client and expires > time.time() and client not in state.revoked else None

    async def oauth(request: Request) -> Response:
        state.oauth_calls += 1
        # application/x-www-form-urlencoded, as OAuth 2 prescribes (no multipart parser needed)
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode(errors="replace")).items()}
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if not client_id or not secret or client_id in state.revoked:
            return JSONResponse({"error": "invalid_client", "error_description": "Unknown client or wrong secret"}, status_code=401)
        token = secrets.token_urlsafe(24)
        state.tokens[token] = (client_id, time.time() + state.token_ttl)
        return JSONResponse({"access_token": token, "token_type": "bearer", "expires_in": int(state.token_ttl), "scope": "orders"})

    async def create_order(request: Request) -> Response:
        client = client_of(request)
        if client is None:
            return message(401, "Missing or expired access token")
        state.submits[client] = state.submits.get(client, 0) + 1
        try:
            body = await request.json()
        except ValueError:
            return message(400, "The request body is not valid JSON")
        if not isinstance(body, dict):
            return message(400, "The request body must be an order object")
        for name, limit in LIMITS.items():
            if isinstance(body.get(name), str) and len(body[name]) > limit:
                return message(400, f"{name} must be at most {limit} characters")
        items = body.get("items")
        if not isinstance(items, list) or not items:
            return message(400, "An order needs at least one item")
        if not isinstance((body.get("shipping") or {}).get("address"), dict):
            return message(400, "An order needs a shipping address")
        orders = state.orders.setdefault(client, {})
        order_id = body.get("id") or str(secrets.randbelow(10**8)).zfill(8)
        if order_id in orders:
            return message(409, f"An order with id {order_id} already exists")
        root = str(request.base_url).rstrip("/")
        out_items = []
        for item in items:
            item_id = str(secrets.randbelow(10**5)).zfill(5)
            files: dict[str, Any] = {}
            given = item.get("files") or {}
            for name in ("content", "cover"):
                if name in given:
                    files[name] = {"status": "DownloadPending", "downloadUrl": given[name]}
            if not files:
                upload = secrets.token_urlsafe(15)
                state.uploads[upload] = (client, order_id, item_id, "content")
                files["content"] = {"status": "AwaitingUpload", "uploadUrl": f"{root}/printapi/v2/files/{upload}"}
            out_items.append(
                {
                    "id": item_id,
                    "productId": item.get("productId"),
                    "pageCount": item.get("pageCount") or 1,
                    "quantity": item.get("quantity"),
                    "files": files,
                    **({"metadata": item["metadata"]} if "metadata" in item else {}),
                }
            )
        order = {
            "id": order_id,
            "dateTime": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "status": "Created",
            "email": body.get("email"),
            "productionSpeed": body.get("productionSpeed", "Standard"),
            "items": out_items,
            "shipping": {"method": {"name": "Pakket (M)", "isTrackable": True}, "address": body["shipping"]["address"]},
            "invoice": {"total": {"cost": 46.69, "taxes": [{"rate": 0.21, "amount": 7.81}]}},
            "invoicingState": "Included",
            "_created": time.time(),
        }
        orders[order_id] = order
        return JSONResponse(_public(order), status_code=201, headers={"Location": f"{root}/printapi/v2/orders/{order_id}"})

    async def get_order(request: Request) -> Response:
        client = client_of(request)
        if client is None:
            return message(401, "Missing or expired access token")
        order = state.orders.get(client, {}).get(request.path_params["order_id"])
        if order is None:
            return message(404, "Order not found")
        _refresh(state, order)
        return JSONResponse(_public(order))

    async def upload(request: Request) -> Response:
        client = client_of(request)
        if client is None:
            return message(401, "Missing or expired access token")
        target = state.uploads.get(request.path_params["token"])
        if target is None or target[0] != client:
            return message(404, "Unknown upload URL")
        media_type = request.headers.get("content-type", "").split(";")[0].strip()
        data = await request.body()
        if media_type not in MAGIC or not data.startswith(MAGIC[media_type]):
            return message(400, "Upload PDF, JPEG or PNG bytes with the matching Content-Type")
        _, order_id, item_id, name = target
        order = state.orders[client][order_id]
        for item in order["items"]:
            if item["id"] == item_id:
                if item["files"][name]["status"] not in ("AwaitingUpload", "Accepted"):
                    return message(403, f"The file is {item['files'][name]['status']}")
                item["files"][name] = {"status": "Accepted"}
        _refresh(state, order)
        return Response(status_code=200)

    return Starlette(
        routes=[
            Route("/oauth", oauth, methods=["POST"]),
            Route("/orders", create_order, methods=["POST"]),
            Route("/orders/{order_id}", get_order, methods=["GET"]),
            Route("/files/{token}", upload, methods=["POST"]),
        ]
    )


def summary(state: PrintapiState, client: str) -> dict[str, Any]:
    return {
        "submits": state.submits.get(client, 0),
        "oauth_calls": state.oauth_calls,
        "orders": {oid: _public(o) for oid, o in state.orders.get(client, {}).items()},
    }


def controls(current: Callable[[], PrintapiState]) -> list[Route]:
    """``/_sandbox/printapi/config`` and ``/_sandbox/printapi/clients/{client_id}``."""

    async def config(request: Request) -> Response:
        current().configure(await request.json())
        return JSONResponse({"ok": True})

    async def client(request: Request) -> Response:
        return JSONResponse(summary(current(), request.path_params["client_id"]))

    return [Route("/_sandbox/printapi/config", config, methods=["POST"]), Route("/_sandbox/printapi/clients/{client_id}", client)]
