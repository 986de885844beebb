"""PrintNow Enterprise API v2 as seed 003 describes it.

Orders belong to the shop, so the sandbox's are made through the control panel
(``POST /_sandbox/printnow/orders``), in the seed's JSON shape.

- HTTP Basic ``token:key``; a missing or revoked pair is a 401 with a message.
- ``GET /order/{id}/download[/{itemId}]`` and ``/assets/{itemId}``: until ``merge_seconds``
  after the order was made, 409 with ``Retry-After: 60`` (order) or ``30`` (item) —
  multiplied by ``retry_after_scale`` for tests, never below 1 — then a real ZIP streamed in
  chunks (``order-{id}.zip``, ``item-{itemId}.zip``, ``item-assets-{itemId}.zip``).
- ``PATCH /order/{id}/status[/{itemId}]``: ``order_status`` must name a storefront status
  (case-insensitive); ``tracking_number`` is appended without duplicates; 204.
- ``PATCH /order/{id}/shipped[/{itemId}]``: sets "Order Shipped" and ``shipped_on``; 400 when
  the storefront has no such status (``no_shipped_status``); 204.
- 404 "Order not found." / "Item not found.".
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

STATUSES = ["New Order", "In Production", "Order Shipped"]


def make_zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 20, 9, 15, 0))
            archive.writestr(info, data)
    return buffer.getvalue()


def _pdf(label: str) -> bytes:
    return b"%PDF-1.4\n% " + label.encode() + b"\n" + b"0" * 20000 + b"\n%%EOF\n"


@dataclass
class PrintnowState:
    merge_seconds: float = 2.0
    retry_after_scale: float = 1.0
    no_shipped_status: bool = False
    revoked: set[str] = field(default_factory=set)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    next_id: int = 5001

    def configure(self, data: dict[str, Any]) -> None:
        for name in ("merge_seconds", "retry_after_scale"):
            if name in data:
                setattr(self, name, float(data[name]))
        if "no_shipped_status" in data:
            self.no_shipped_status = bool(data["no_shipped_status"])
        self.revoked.update(data.get("revoke", []))

    def statuses(self) -> list[str]:
        return [s for s in STATUSES if not (self.no_shipped_status and s == "Order Shipped")]

    def create(self, items: int = 2) -> dict[str, Any]:
        order_id = self.next_id
        self.next_id += 1
        order: dict[str, Any] = {
            "storefront": "My Print Store",
            "id": order_id,
            "is_archived": False,
            "is_deleted": False,
            "integration_id": f"EXT-{order_id}",
            "status": "New Order",
            "customer": {"id": 12345, "first_name": "Jane", "last_name": "Smith", "email": "jane@example.com", "username": "janesmith"},
            "shipping_address": {
                "id": 100,
                "name": "Office",
                "first_name": "Jane",
                "last_name": "Smith",
                "line_1": "123 Main St",
                "city": "New York",
                "state": "NY",
                "postal_code": "10001",
                "country_code": "US",
                "is_residential": False,
            },
            "billing_address": {},
            "tax_total": 8.75,
            "shipping_total": 12.5,
            "sub_total": 125.0,
            "created_on": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "shipped_on": None,
            "shipping_provider": "UPS",
            "shipping_service": "Ground",
            "tracking_numbers": [],
            "items": [
                {
                    "id": order_id * 10 + i,
                    "product_id": 42,
                    "name": "Business Cards",
                    "status": "New Order",
                    "quantity": 500,
                    "due_on": "2026-01-25T00:00:00Z",
                }
                for i in range(1, items + 1)
            ],
            "checkout_fields": [{"name": "PO Number", "value": "PO-2026-001"}],
        }
        zips = {"order": make_zip({f"item-{i['id']}.pdf": _pdf(f"item {i['id']}") for i in order["items"]})}
        for item in order["items"]:
            zips[f"item-{item['id']}"] = make_zip({f"item-{item['id']}.pdf": _pdf(f"item {item['id']}")})
            zips[f"item-assets-{item['id']}"] = make_zip({f"design-{item['id']}.png": b"\x89PNG\r\n\x1a\n" + bytes(500)})
        self.orders[order_id] = {"order": order, "zips": zips, "created": time.time()}
        return {"order": order, "sha256": {name: hashlib.sha256(data).hexdigest() for name, data in zips.items()}}


def message(status: int, text: str) -> JSONResponse:
    return JSONResponse({"message": text}, status_code=status)


def create_printnow(state: PrintnowState) -> Starlette:
    def authorised(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            token, _, key = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return bool(token and key) and token not in state.revoked

    def find(request: Request) -> tuple[dict[str, Any] | None, dict[str, Any] | None, Response | None]:
        if not authorised(request):
            return None, None, message(401, "Authorization has been denied for this request. Check your API token and key.")
        try:
            entry = state.orders.get(int(request.path_params["order_id"]))
        except ValueError:
            entry = None
        if entry is None:
            return None, None, message(404, "Order not found.")
        item = None
        if "item_id" in request.path_params:
            item = next((i for i in entry["order"]["items"] if str(i["id"]) == request.path_params["item_id"]), None)
            if item is None:
                return None, None, message(404, "Item not found.")
        return entry, item, None

    async def get_order(request: Request) -> Response:
        entry, _, refusal = find(request)
        if refusal is not None or entry is None:
            return refusal or message(404, "Order not found.")
        order = entry["order"]
        public = {k: v for k, v in order.items() if k != "tracking_numbers"}
        return JSONResponse({**public, "tracking_number": ",".join(order["tracking_numbers"])})

    def download(kind: str) -> Any:
        async def endpoint(request: Request) -> Response:
            entry, item, refusal = find(request)
            if refusal:
                return refusal
            assert entry is not None
            if time.time() - entry["created"] < state.merge_seconds:
                base = 60 if item is None else 30
                wait = max(1, math.ceil(base * state.retry_after_scale))
                text = "All items have not completed merge process." if item is None else "Item has not completed merge process."
                return JSONResponse({"message": text}, status_code=409, headers={"Retry-After": str(wait)})
            name = "order" if item is None else f"{kind}-{item['id']}"
            data = entry["zips"][name]
            filename = f"order-{entry['order']['id']}.zip" if item is None else f"{kind}-{item['id']}.zip"

            def chunks() -> Iterator[bytes]:
                for start in range(0, len(data), 4096):
                    yield data[start : start + 4096]

            return StreamingResponse(
                chunks(),
                media_type="application/zip",
                headers={"Content-Disposition": f'attachment; filename="{filename}"', "Content-Length": str(len(data))},
            )

        return endpoint

    async def update_status(request: Request) -> Response:
        entry, item, refusal = find(request)
        if refusal:
            return refusal
        assert entry is not None
        body = await request.json() if await request.body() else {}
        wanted = str(body.get("order_status", ""))
        match = next((s for s in state.statuses() if s.lower() == wanted.lower()), None)
        if match is None:
            return message(400, f"Status {wanted!r} does not exist on this storefront.")
        _apply(entry["order"], item, match, body.get("tracking_number"))
        return Response(status_code=204)

    async def shipped(request: Request) -> Response:
        entry, item, refusal = find(request)
        if refusal:
            return refusal
        assert entry is not None
        if "Order Shipped" not in state.statuses():
            return message(400, "Bad Request")
        body = await request.json() if await request.body() else {}
        _apply(entry["order"], item, "Order Shipped", body.get("tracking_number"))
        return Response(status_code=204)

    return Starlette(
        routes=[
            Route("/order/{order_id}", get_order, methods=["GET"]),
            Route("/order/{order_id}/download", download("item"), methods=["GET"]),
            Route("/order/{order_id}/download/{item_id}", download("item"), methods=["GET"]),
            Route("/order/{order_id}/assets/{item_id}", download("item-assets"), methods=["GET"]),
            Route("/order/{order_id}/status", update_status, methods=["PATCH"]),
            Route("/order/{order_id}/status/{item_id}", update_status, methods=["PATCH"]),
            Route("/order/{order_id}/shipped", shipped, methods=["PATCH"]),
            Route("/order/{order_id}/shipped/{item_id}", shipped, methods=["PATCH"]),
        ]
    )


def _apply(order: dict[str, Any], item: dict[str, Any] | None, status: str, tracking: str | None) -> None:
    for target in [item] if item is not None else order["items"]:
        target["status"] = status
    if item is None:
        order["status"] = status
    if status == "Order Shipped" and order["shipped_on"] is None:
        order["shipped_on"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if tracking and tracking not in order["tracking_numbers"]:
        order["tracking_numbers"].append(tracking)


def controls(current: Callable[[], PrintnowState]) -> list[Route]:
    """``/_sandbox/printnow/config``; ``POST /_sandbox/printnow/orders`` makes an order,
    ``GET …?id=`` shows one as the sandbox holds it."""

    async def config(request: Request) -> Response:
        current().configure(await request.json())
        return JSONResponse({"ok": True})

    async def orders(request: Request) -> Response:
        if request.method == "POST":
            body = await request.json() if await request.body() else {}
            return JSONResponse(current().create(int(body.get("items", 2))), status_code=201)
        order = current().orders.get(int(request.query_params.get("id", "0")))
        return JSONResponse(order["order"] if order else None)

    return [
        Route("/_sandbox/printnow/config", config, methods=["POST"]),
        Route("/_sandbox/printnow/orders", orders, methods=["GET", "POST"]),
    ]
