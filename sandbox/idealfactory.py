"""Ideal Factory OMS API v1 as seed 002 describes it (the orders and print-file parts).

- Bearer token: any non-empty token is a client of its own unless revoked (401 otherwise).
  A ``store_id`` listed in ``forbidden_stores`` answers 403 (store ids are assigned by Ideal
  Factory; using someone else's is forbidden).
- ``POST /api/v1/orders`` checks the seed's required fields (400 with ``errors``), answers
  ``{"uid", "ecommerce_order_id", "items": [{"uid", "ecommerce_order_item_id"}]}``.
- ``GET``/``PUT``/``DELETE /api/v1/orders/{uid}``; unknown uid → 404.
- ``GET /api/v1/order-items/{ecommerce_order_item_id}/print``: with ``create_print_files`` the
  file goes ``received`` → ``processing`` → ``ready`` one ``step_seconds`` apart (or
  ``processingfailed`` for items listed in ``fail_items``); ``url`` only when ready, serving a
  real PDF under ``/idealfactory/print-files/``. Without ``create_print_files`` it stays ``received``.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ITEM_FIELDS = ("ecommerce_order_item_id", "ecommerce_variant_id", "quantity", "template_config", "thumbnails")
ADDRESS_FIELDS = ("type_id", "address_1", "post_code", "city", "country_code")
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


@dataclass
class IdealfactoryState:
    step_seconds: float = 1.0
    fail_items: set[str] = field(default_factory=set)
    forbidden_stores: set[str] = field(default_factory=set)
    revoked: set[str] = field(default_factory=set)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    items: dict[str, dict[str, Any]] = field(default_factory=dict)  # ecommerce_order_item_id -> print state
    requests: dict[str, list[str]] = field(default_factory=dict)  # token -> ["POST /api/v1/orders", ...]

    def configure(self, data: dict[str, Any]) -> None:
        if "step_seconds" in data:
            self.step_seconds = float(data["step_seconds"])
        self.fail_items.update(data.get("fail_items", []))
        self.forbidden_stores.update(data.get("forbidden_stores", []))
        self.revoked.update(data.get("revoke", []))


def error(status: int, text: str, errors: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"message": text, **({"errors": errors} if errors else {})}, status_code=status)


def _missing(order: dict[str, Any]) -> dict[str, str]:
    problems: dict[str, str] = {}
    for name in ("store_id", "ecommerce_order_id", "items"):
        if not order.get(name):
            problems[name] = "required"
    for i, item in enumerate(order.get("items") or []):
        for name in ITEM_FIELDS:
            if item.get(name) in (None, ""):
                problems[f"items.{i}.{name}"] = "required"
        config = item.get("template_config")
        if isinstance(config, str):
            try:
                json.loads(unquote(config))
            except ValueError:
                problems[f"items.{i}.template_config"] = "must be a URL-encoded JSON string"
        elif config is not None:
            problems[f"items.{i}.template_config"] = "must be a string"
    for i, address in enumerate(order.get("addresses") or []):
        for name in ADDRESS_FIELDS:
            if not address.get(name):
                problems[f"addresses.{i}.{name}"] = "required"
        if address.get("type_id") not in (None, "", "billing", "shipping"):
            problems[f"addresses.{i}.type_id"] = "must be billing or shipping"
    for i, shipping in enumerate(order.get("shippings") or []):
        for name in ("code", "shipping_price"):
            if shipping.get(name) in (None, ""):
                problems[f"shippings.{i}.{name}"] = "required"
    return problems


def create_idealfactory(state: IdealfactoryState) -> Starlette:
    def token_of(request: Request) -> str | None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not token or token in state.revoked:
            return None
        state.requests.setdefault(token, []).append(f"{request.method} {request.url.path}")
        return token

    async def create_order(request: Request) -> Response:
        if token_of(request) is None:
            return error(401, "Unauthenticated.")
        try:
            body = await request.json()
        except ValueError:
            return error(400, "The request body is not valid JSON")
        if not isinstance(body, dict):
            return error(400, "The request body must be an order object")
        if problems := _missing(body):
            return error(400, "The given data was invalid.", problems)
        if body["store_id"] in state.forbidden_stores:
            return error(403, "This action is unauthorized.")
        uid = secrets.token_hex(8)
        items = []
        for item in body["items"]:
            item_uid = secrets.token_hex(8)
            items.append({"uid": item_uid, "ecommerce_order_item_id": item["ecommerce_order_item_id"]})
            state.items[item["ecommerce_order_item_id"]] = {"created": time.time(), "print": bool(body.get("create_print_files"))}
        order = {
            "uid": uid,
            "ecommerce_order_id": body["ecommerce_order_id"],
            "store_id": body["store_id"],
            "items": items,
            "note": body.get("note"),
            "total_price": body.get("total_price"),
            "shippings": body.get("shippings") or [],
        }
        state.orders[uid] = order
        return JSONResponse(order, status_code=201)

    async def one_order(request: Request) -> Response:
        if token_of(request) is None:
            return error(401, "Unauthenticated.")
        uid = request.path_params["uid"]
        order = state.orders.get(uid)
        if order is None:
            return error(404, "Order not found.")
        if request.method == "DELETE":
            del state.orders[uid]
            return JSONResponse({"message": "Order successfully deleted", "order_uid": uid})
        if request.method == "PUT":
            try:
                changes = await request.json()
            except ValueError:
                return error(400, "The request body is not valid JSON")
            order.update(
                {
                    k: v
                    for k, v in changes.items()
                    if k
                    in (
                        "note",
                        "total_price",
                        "subtotal_price",
                        "currency_code",
                        "shippings",
                        "addresses",
                        "customer",
                        "ecommerce_order_number",
                    )
                }
            )
        return JSONResponse(order)

    async def print_file(request: Request) -> Response:
        if token_of(request) is None:
            return error(401, "Unauthenticated.")
        item_id = request.path_params["item_id"]
        item = state.items.get(item_id)
        if item is None:
            return error(404, "Order item not found.")
        status = "received"
        if item["print"]:
            steps = int((time.time() - item["created"]) / state.step_seconds) if state.step_seconds > 0 else 2
            status = ("received", "processing", "ready")[min(steps, 2)]
            if status == "ready" and item_id in state.fail_items:
                status = "processingfailed"
        url = f"{str(request.base_url).rstrip('/')}/idealfactory/print-files/{item_id}.pdf" if status == "ready" else None
        return JSONResponse({"ecommerce_order_item_id": item_id, "status": status, "url": url})

    async def served_file(request: Request) -> Response:
        return Response(PDF + request.path_params["name"].encode() + b"\n", media_type="application/pdf")

    return Starlette(
        routes=[
            Route("/api/v1/orders", create_order, methods=["POST"]),
            Route("/api/v1/orders/{uid}", one_order, methods=["GET", "PUT", "DELETE"]),
            Route("/api/v1/order-items/{item_id}/print", print_file, methods=["GET"]),
            Route("/print-files/{name}", served_file, methods=["GET"]),
        ]
    )


def summary(state: IdealfactoryState, token: str) -> dict[str, Any]:
    return {"requests": state.requests.get(token, []), "orders": state.orders}


def controls(current: Callable[[], IdealfactoryState]) -> list[Route]:
    """``/_sandbox/idealfactory/config`` and ``/_sandbox/idealfactory/client`` (with the bearer token)."""

    async def config(request: Request) -> Response:
        current().configure(await request.json())
        return JSONResponse({"ok": True})

    async def client(request: Request) -> Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        return JSONResponse(summary(current(), token))

    return [Route("/_sandbox/idealfactory/config", config, methods=["POST"]), Route("/_sandbox/idealfactory/client", client)]
