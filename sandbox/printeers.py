"""Printeers API v2 as seed 000 and PROVIDERS.md describe it.

- Auth: ``X-Printeers-Secret-Key``; every distinct key is its own organisation (so tests can
  work side by side); ``/_sandbox/printeers/revoke`` makes a key fail with 401.
- Wrapped bodies, ``Order_``/``Image_``/``Shipment_`` + 26 lowercase letters and digits.
- Images: JPEG/PNG by magic bytes; the same content twice gives the same reference.
- Catalogue: ``GET /products``, paged by ``nextCursor``: two print products and a screen
  protector (the seed's non-print example); ``POST /orders`` refuses an image on the one and a
  missing image on the others, as the seed says Printeers does.
- Orders: the seed's validation errors; status is an object and moves on with time
  (``created`` → ``processing`` → ``in_production`` → ``shipped``, one step per
  ``order_step_seconds``); cancels with absolute totals: atomic, idempotent, the four 409/403s.
- Rate limits per organisation, refilled continuously: ``default`` 3000/60 s (every call),
  ``uploads`` 5000/24 h (``POST /images``), ``downloads`` 100000/24 h; ``X-RateLimit-Policy``
  and ``X-RateLimit`` on every answer; a 429 carries ``Retry-After`` (PROVIDERS.md calls this
  unknown; ``retry_after_on_429: false`` answers without it, to exercise the ``t`` fallback).
"""

from __future__ import annotations

import hashlib
import math
import secrets
import string
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.buckets import Buckets

Handler = Callable[[Request, "Org"], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]
ALPHABET = string.ascii_lowercase + string.digits
DEFAULT_LIMITS = {"default": (3000, 60.0), "uploads": (5000, 86400.0), "downloads": (100000, 86400.0)}
STEPS = ("created", "processing", "in_production", "shipped")

#: The sandbox's catalog. The screen protector is the seed's example of a non-print product.
PRODUCTS = {
    "Product_4j8k2m5n7p9q1r3s6t8v0w2x4y": {"name": "Phone case, glossy", "print": True},
    "Product_7h2k9m4n6p8q0r1s3t5v7w9x1y": {"name": "Phone case, matte", "print": True},
    "Product_screenprotector00000000000": {"name": "Screen protector", "print": False},
}
NON_PRINT_PRODUCT = "Product_screenprotector00000000000"


def reference(prefix: str) -> str:
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(26))


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


@dataclass
class Org:
    buckets: Buckets = field(default_factory=lambda: Buckets(dict(DEFAULT_LIMITS)))
    images: dict[str, str] = field(default_factory=dict)  # sha256 -> reference
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    shipments: dict[str, dict[str, Any]] = field(default_factory=dict)
    uploads_received: int = 0
    orders_received: int = 0
    throttled: int = 0


@dataclass
class PrinteersState:
    orgs: dict[str, Org] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)
    upstream_stores: set[str] = field(default_factory=set)
    order_step_seconds: float = 2.0
    retry_after_on_429: bool = True
    products_page_size: int = 50
    limits: dict[str, tuple[int, float]] = field(default_factory=lambda: dict(DEFAULT_LIMITS))

    def org(self, key: str) -> Org:
        if key not in self.orgs:
            self.orgs[key] = Org(buckets=Buckets(dict(self.limits)))
        return self.orgs[key]

    def configure(self, data: dict[str, Any]) -> None:
        if "order_step_seconds" in data:
            self.order_step_seconds = float(data["order_step_seconds"])
        if "products_page_size" in data:
            self.products_page_size = max(1, int(data["products_page_size"]))
        if "retry_after_on_429" in data:
            self.retry_after_on_429 = bool(data["retry_after_on_429"])
        for name, (quota, window) in data.get("limits", {}).items():
            self.limits[name] = (int(quota), float(window))
            for org in self.orgs.values():
                org.buckets.set_limit(name, int(quota), float(window))
        self.revoked.update(data.get("revoke", []))
        self.upstream_stores.update(data.get("upstream_stores", []))

    def throttled_total(self) -> int:
        return sum(org.throttled for org in self.orgs.values())


def _status(state: PrinteersState, order: dict[str, Any]) -> str:
    if order.get("frozen_status"):
        return str(order["frozen_status"])
    step = int((time.time() - order["created"]) / state.order_step_seconds) if state.order_step_seconds > 0 else 0
    return STEPS[min(step, len(STEPS) - 1)]


def _public(state: PrinteersState, org: Org, ref: str) -> dict[str, Any]:
    order = org.orders[ref]
    status = _status(state, order)
    lines = order["orderlines"]
    if all(line["canceledQuantity"] >= line["quantity"] for line in lines):
        status, order["frozen_status"] = "canceled", "canceled"
    if status == "shipped" and not order["shipments"]:
        shipment = reference("Shipment_")
        org.shipments[shipment] = {
            "reference": shipment,
            "orderReference": ref,
            "carrier": "PostNL",
            "trackingCode": "3S" + secrets.token_hex(6).upper(),
            "trackingUrl": f"https://tracking.example/{shipment}",
        }
        order["shipments"].append(shipment)
        for line in lines:
            line["shippedQuantity"] = line["quantity"] - line["canceledQuantity"]
    return {
        "reference": ref,
        "storeReference": order["storeReference"],
        "shippingKind": order["shippingKind"],
        "customIdentifier": order.get("customIdentifier"),
        "status": {"code": status, "since": order["created"]},
        "orderlines": lines,
        "shipments": [{"reference": s} for s in order["shipments"]],
    }


def create_printeers(state: PrinteersState) -> Starlette:
    def authed(buckets: tuple[str, ...] = ("default",)) -> Callable[[Handler], Endpoint]:
        def decorator(handler: Handler) -> Endpoint:
            async def endpoint(request: Request) -> Response:
                key = request.headers.get("x-printeers-secret-key", "")
                if not key:
                    return error(401, "unauthorized", "Missing X-Printeers-Secret-Key header")
                if key in state.revoked:
                    return error(401, "unauthorized", "Invalid secret key")
                org = state.org(key)
                wait = org.buckets.take(buckets)
                headers = org.buckets.headers(buckets)
                if wait > 0:
                    org.throttled += 1
                    if state.retry_after_on_429:
                        headers["Retry-After"] = str(math.ceil(wait))
                    return error(429, "rate_limited", "Rate limit exceeded", headers)
                response: Response = await handler(request, org)
                response.headers.update(headers)
                return response

            return endpoint

        return decorator

    @authed(("default", "uploads"))
    async def upload_image(request: Request, org: Org) -> Response:
        data = await request.body()
        org.uploads_received += 1
        if not (data.startswith(b"\xff\xd8\xff") or data.startswith(b"\x89PNG\r\n\x1a\n")):
            return error(400, "unsupported_image_format", "Accepted formats are JPEG and PNG")
        digest = hashlib.sha256(data).hexdigest()
        ref = org.images.setdefault(digest, reference("Image_"))
        return JSONResponse({"image": {"reference": ref}}, status_code=201)

    @authed()
    async def list_products(request: Request, org: Org) -> Response:
        # PROVIDERS.md: lists are ``{"<resource>s": [...], "nextCursor": "..."}``; the cursor
        # here is the offset of the next page (``products_page_size`` per page).
        products = [{"reference": r, **p} for r, p in PRODUCTS.items()]
        start = int(request.query_params.get("cursor") or 0)
        end = start + state.products_page_size
        return JSONResponse({"products": products[start:end], "nextCursor": str(end) if end < len(products) else None})

    @authed()
    async def create_order(request: Request, org: Org) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return error(400, "invalid_json", "The request body is not valid JSON")
        order = body.get("order") if isinstance(body, dict) else None
        if not isinstance(order, dict):
            return error(400, "invalid_request", 'The body must be {"order": {...}}')
        org.orders_received += 1
        kind = order.get("shippingKind")
        if kind not in ("dropship", "combined"):
            return error(400, "invalid_shipping_kind", "shippingKind must be dropship or combined")
        if kind == "dropship" and not order.get("dropshipAddress"):
            return error(400, "missing_address", "Dropship address is required for dropship orders")
        lines = order.get("orderlines") or []
        if not lines:
            return error(400, "missing_orderlines", "An order needs at least one orderline")
        known_images = set(org.images.values())
        for line in lines:
            product = PRODUCTS.get(line.get("productReference", ""))
            if product is None:
                return error(400, "unknown_product", f"Unknown product {line.get('productReference')!r}")
            image = line.get("imageReference")
            if product["print"] and not image:
                return error(400, "missing_image_reference", "Print products need an uploaded image")
            if not product["print"] and image:
                return error(400, "image_reference_not_allowed", "Orderlines with non-print products must not have an image reference")
            if image and image not in known_images:
                return error(400, "unknown_image_reference", f"Unknown image {image!r}")
            if not isinstance(line.get("quantity"), int) or line["quantity"] < 1:
                return error(400, "invalid_quantity", "quantity must be a positive integer")
        ref = reference("Order_")
        org.orders[ref] = {
            "storeReference": order.get("storeReference"),
            "shippingKind": kind,
            "customIdentifier": order.get("customIdentifier"),
            "created": time.time(),
            "shipments": [],
            "orderlines": [
                {
                    "index": i,
                    "productReference": line["productReference"],
                    "imageReference": line.get("imageReference"),
                    "quantity": line["quantity"],
                    "canceledQuantity": 0,
                    "shippedQuantity": 0,
                }
                for i, line in enumerate(lines, start=1)
            ],
        }
        return JSONResponse({"order": {"reference": ref}}, status_code=201)

    @authed()
    async def get_order(request: Request, org: Org) -> Response:
        ref = request.path_params["ref"]
        if ref not in org.orders:
            return error(404, "order_not_found", f"Order {ref} not found")
        return JSONResponse({"order": _public(state, org, ref)})

    @authed()
    async def cancel_order(request: Request, org: Org) -> Response:
        ref = request.path_params["ref"]
        if ref not in org.orders:
            return error(404, "order_not_found", f"Order {ref} not found")
        order = org.orders[ref]
        if order["storeReference"] in state.upstream_stores:
            return error(403, "store_not_writable_via_api", "Orders of this store must be canceled in its upstream platform")
        current = _public(state, org, ref)["status"]["code"]
        if current in ("in_production", "shipped"):
            return error(409, "already_in_production", "Orders that are in production cannot be canceled")
        try:
            body = await request.json()
        except ValueError:
            return error(400, "invalid_json", "The request body is not valid JSON")
        by_index = {line["index"]: line for line in order["orderlines"]}
        wanted = body.get("orderlines") if isinstance(body, dict) else None
        if not isinstance(wanted, list) or not wanted:
            return error(400, "missing_orderlines", "List the orderlines to cancel")
        for item in wanted:  # validate everything first: the request is atomic
            line = by_index.get(item.get("index"))
            if line is None:
                return error(400, "unknown_orderline", f"Order {ref} has no orderline {item.get('index')}")
            quantity = item.get("canceledQuantity")
            if not isinstance(quantity, int) or quantity < 0:
                return error(400, "invalid_canceled_quantity", "canceledQuantity must be a non-negative integer")
            if quantity < line["canceledQuantity"]:
                return error(
                    409, "canceled_quantity_below_current", f"Orderline {line['index']} already has {line['canceledQuantity']} canceled"
                )
            if quantity > line["quantity"] - line["shippedQuantity"]:
                return error(
                    409,
                    "canceled_quantity_exceeds_shippable",
                    f"Orderline {line['index']} has only {line['quantity'] - line['shippedQuantity']} shippable",
                )
        for item in wanted:
            by_index[item["index"]]["canceledQuantity"] = item["canceledQuantity"]
        return Response(status_code=204)

    @authed()
    async def get_shipment(request: Request, org: Org) -> Response:
        ref = request.path_params["ref"]
        if ref not in org.shipments:
            return error(404, "shipment_not_found", f"Shipment {ref} not found")
        return JSONResponse({"shipment": org.shipments[ref]})

    return Starlette(
        routes=[
            Route("/images", upload_image, methods=["POST"]),
            Route("/products", list_products, methods=["GET"]),
            Route("/orders", create_order, methods=["POST"]),
            Route("/orders/{ref}", get_order, methods=["GET"]),
            Route("/orders/{ref}/cancel", cancel_order, methods=["POST"]),
            Route("/shipments/{ref}", get_shipment, methods=["GET"]),
        ]
    )


def org_summary(state: PrinteersState, key: str) -> dict[str, Any]:
    org = state.org(key)
    return {
        "images": len(org.images),
        "uploads_received": org.uploads_received,
        "orders_received": org.orders_received,
        "orders": {ref: _public(state, org, ref) for ref in org.orders},
        "throttled": org.throttled,
    }


def controls(current: Callable[[], PrinteersState]) -> list[Route]:
    """``/_sandbox/printeers/config`` (limits, order steps, revoked keys, upstream stores) and
    ``/_sandbox/printeers/org`` (with the key header: that organisation's orders and counters)."""

    async def config(request: Request) -> Response:
        current().configure(await request.json())
        return JSONResponse({"ok": True, "throttled_total": current().throttled_total()})

    async def org(request: Request) -> Response:
        return JSONResponse(org_summary(current(), request.headers.get("x-printeers-secret-key", "")))

    return [Route("/_sandbox/printeers/config", config, methods=["POST"]), Route("/_sandbox/printeers/org", org)]
