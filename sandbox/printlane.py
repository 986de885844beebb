"""Printlane API 2023-10 as seed 004 describes it.

- Stores are registered through the control panel (``POST /_sandbox/printlane/stores`` with
  ``store_id``, ``api_key``, ``api_secret``, optional ``domains``). Every request must carry
  ``X-Printlane-Store``, ``X-Printlane-Api-Key`` and ``X-Printlane-Api-Signature``: the
  lowercase hex HMAC-SHA256 of store id + order id with the store's secret (401 otherwise).
- Every property of the order object is required, details objects complete, strings allowed
  empty, dates ISO-8601, line items with integer ``id``, ``token``, integer ``quantity`` and a
  numeric ``price`` (400 with the first problem). An order without line items is refused (400):
  only orders with designs may be stored. A ``domain`` the store has not configured is a 400.
- ``POST /orders`` creates (201; 409 if orderId + store + domain exists), ``POST /orders/{id}``
  updates (200; 404 if missing), ``DELETE /orders/{id}`` deletes (204; 404 if missing).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TOP = (
    "billingDetails",
    "created",
    "domain",
    "email",
    "firstName",
    "lastName",
    "lineItems",
    "orderId",
    "shippingDetails",
    "status",
    "updated",
)
DETAILS = ("address1", "address2", "city", "companyName", "country", "countryCode", "firstName", "lastName", "phone", "province", "zip")


@dataclass
class PrintlaneState:
    stores: dict[str, dict[str, Any]] = field(default_factory=dict)
    orders: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)  # (store, domain, orderId)
    received: list[dict[str, Any]] = field(default_factory=list)  # every request: store, method, order, status

    def register(self, data: dict[str, Any]) -> None:
        self.stores[data["store_id"]] = {
            "api_key": data["api_key"],
            "api_secret": data["api_secret"],
            "domains": list(data.get("domains") or []),
        }


def problem(order: Any) -> str | None:
    if not isinstance(order, dict):
        return "The body must be an order object"
    for name in TOP:
        if name not in order:
            return f"Property {name} is required"
    for details in ("billingDetails", "shippingDetails"):
        block = order[details]
        if not isinstance(block, dict):
            return f"{details} must be an object"
        for name in DETAILS:
            if name not in block:
                return f"Property {details}.{name} is required"
            if not isinstance(block[name], str):
                return f"{details}.{name} must be a string"
    for name in ("email", "firstName", "lastName", "status", "orderId", "domain"):
        if not isinstance(order[name], str):
            return f"{name} must be a string"
    for name in ("created", "updated"):
        try:
            datetime.fromisoformat(str(order[name]).replace("Z", "+00:00"))
        except ValueError:
            return f"{name} must be an ISO-8601 date"
    if not isinstance(order["lineItems"], list) or not order["lineItems"]:
        return "Only orders with designs may be pushed (lineItems is empty)"
    for i, item in enumerate(order["lineItems"]):
        if not isinstance(item, dict):
            return f"lineItems[{i}] must be an object"
        if not isinstance(item.get("id"), int) or isinstance(item.get("id"), bool):
            return f"lineItems[{i}].id must be an integer"
        if not isinstance(item.get("token"), str) or not item["token"]:
            return f"lineItems[{i}].token is required"
        if not isinstance(item.get("quantity"), int):
            return f"lineItems[{i}].quantity must be an integer"
        if not isinstance(item.get("price"), int | float):
            return f"lineItems[{i}].price must be a number"
    return None


def create_printlane(state: PrintlaneState) -> Starlette:
    def verify(request: Request, order_id: str) -> str | None:
        store = request.headers.get("x-printlane-store", "")
        config = state.stores.get(store)
        if config is None or request.headers.get("x-printlane-api-key") != config["api_key"]:
            return None
        expected = hmac.new(config["api_secret"].encode(), f"{store}{order_id}".encode(), hashlib.sha256).hexdigest()
        return store if hmac.compare_digest(expected, request.headers.get("x-printlane-api-signature", "")) else None

    async def push(request: Request) -> Response:
        order_id = request.path_params.get("order_id")
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"message": "The body is not valid JSON"}, status_code=400)
        signed_id = order_id or (body.get("orderId") if isinstance(body, dict) else None) or ""
        store = verify(request, str(signed_id))
        entry = {"store": request.headers.get("x-printlane-store"), "method": "POST", "order": signed_id, "update": order_id is not None}
        state.received.append(entry)
        if store is None:
            entry["status"] = 401
            return JSONResponse({"message": "Invalid store, API key or signature"}, status_code=401)
        if (reason := problem(body)) is not None:
            entry["status"] = 400
            return JSONResponse({"message": reason}, status_code=400)
        domains = state.stores[store]["domains"]
        if domains and body["domain"] not in domains:
            entry["status"] = 400
            return JSONResponse({"message": f"Domain {body['domain']} is not configured for this store"}, status_code=400)
        key = (store, body["domain"], body["orderId"])
        if order_id is None and key in state.orders:
            entry["status"] = 409
            return JSONResponse({"message": "Order already exists"}, status_code=409)
        if order_id is not None and key not in state.orders:
            entry["status"] = 404
            return JSONResponse({"message": "Order not found"}, status_code=404)
        state.orders[key] = body
        status = 200 if order_id else 201
        entry["status"] = status
        return JSONResponse({"orderId": body["orderId"]}, status_code=status)

    async def delete(request: Request) -> Response:
        order_id = request.path_params["order_id"]
        store = verify(request, order_id)
        entry = {"store": request.headers.get("x-printlane-store"), "method": "DELETE", "order": order_id}
        state.received.append(entry)
        if store is None:
            entry["status"] = 401
            return JSONResponse({"message": "Invalid store, API key or signature"}, status_code=401)
        keys = [k for k in state.orders if k[0] == store and k[2] == order_id]
        if not keys:
            entry["status"] = 404
            return JSONResponse({"message": "Order not found"}, status_code=404)
        for key in keys:
            del state.orders[key]
        entry["status"] = 204
        return Response(status_code=204)

    return Starlette(
        routes=[
            Route("/orders", push, methods=["POST"]),
            Route("/orders/{order_id}", push, methods=["POST"]),
            Route("/orders/{order_id}", delete, methods=["DELETE"]),
        ]
    )


def summary(state: PrintlaneState, store: str) -> dict[str, Any]:
    return {
        "orders": {k[2]: v for k, v in state.orders.items() if k[0] == store},
        "received": [r for r in state.received if r["store"] == store],
    }


def controls(current: Callable[[], PrintlaneState]) -> list[Route]:
    """``POST /_sandbox/printlane/stores`` registers a store; ``GET …/stores/{store_id}`` shows it."""

    async def stores(request: Request) -> Response:
        current().register(await request.json())
        return JSONResponse({"ok": True})

    async def store(request: Request) -> Response:
        return JSONResponse(summary(current(), request.path_params["store_id"]))

    return [Route("/_sandbox/printlane/stores", stores, methods=["POST"]), Route("/_sandbox/printlane/stores/{store_id}", store)]
