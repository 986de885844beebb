"""The sandbox server: the providers under their prefixes, and the ``/_sandbox`` control panel.

Control panel (JSON):

- ``GET /_sandbox/health``
- ``POST /_sandbox/reset`` — forget every provider's state, knobs and the request log
- ``GET|POST /_sandbox/knobs/{provider}`` — see :mod:`sandbox.faults`
- ``GET /_sandbox/requests?provider=…`` — the request log: method, path, status, time, fault
- ``POST /_sandbox/printeers/config`` — ``limits``, ``order_step_seconds``, ``retry_after_on_429``,
  ``revoke`` (keys), ``upstream_stores`` (store references that are Shopify-backed)
- ``GET /_sandbox/printeers/org`` (with the ``X-Printeers-Secret-Key`` header) — that
  organisation's orders, image count, upload and order counters, 429s sent
- ``POST /_sandbox/printapi/config`` — ``token_ttl``, ``download_delay``, ``ship_delay``,
  ``fail_downloads``, ``revoke`` (client ids), ``expire_tokens`` (all issued tokens now)
- ``GET /_sandbox/printapi/clients/{client_id}`` — that client's orders and counters
- ``POST /_sandbox/idealfactory/config`` — ``step_seconds``, ``fail_items``, ``forbidden_stores``, ``revoke``
- ``GET /_sandbox/idealfactory/client`` (with the bearer token) — the requests that token made, and the orders
- ``POST /_sandbox/printnow/config`` — ``merge_seconds``, ``retry_after_scale``, ``no_shipped_status``, ``revoke``
- ``POST /_sandbox/printnow/orders`` — make an order (``{"items": N}``); answers it with its ZIPs' SHA-256;
  ``GET /_sandbox/printnow/orders?id=…`` — the order as the sandbox holds it (statuses, tracking numbers)
- ``POST /_sandbox/printlane/stores`` — register a store (``store_id``, ``api_key``, ``api_secret``, ``domains``);
  ``GET /_sandbox/printlane/stores/{store_id}`` — its orders and every request it received
- ``GET /_sandbox/files/{name}`` — sample print files (``sample.png``, ``other.png``, ``sample.pdf``)
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from sandbox.faults import Faulty, Knobs, RequestLog
from sandbox.idealfactory import IdealfactoryState, create_idealfactory
from sandbox.idealfactory import summary as idealfactory_summary
from sandbox.printapi import PrintapiState, create_printapi
from sandbox.printapi import summary as printapi_summary
from sandbox.printeers import PrinteersState, create_printeers, org_summary
from sandbox.printlane import PrintlaneState, create_printlane
from sandbox.printlane import summary as printlane_summary
from sandbox.printnow import PrintnowState, create_printnow

#: Where each provider lives on the sandbox, relative to its root URL.
PREFIXES = {
    "printeers": "/printeers/v2",
    "printapi": "/printapi/v2",
    "idealfactory": "/idealfactory",
    "printnow": "/printnow/api/v2",
    "printlane": "/printlane/2023-10",
}


@dataclass
class SandboxState:
    knobs: dict[str, Knobs] = field(default_factory=lambda: {p: Knobs() for p in PREFIXES})
    log: RequestLog = field(default_factory=RequestLog)
    printeers: PrinteersState = field(default_factory=PrinteersState)
    printapi: PrintapiState = field(default_factory=PrintapiState)
    idealfactory: IdealfactoryState = field(default_factory=IdealfactoryState)
    printnow: PrintnowState = field(default_factory=PrintnowState)
    printlane: PrintlaneState = field(default_factory=PrintlaneState)

    def reset(self) -> None:
        fresh = SandboxState()
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))


def base_urls(root: str) -> dict[str, str]:
    return {provider: root.rstrip("/") + prefix for provider, prefix in PREFIXES.items()}


def png(width: int = 8, height: int = 8, seed: int = 0) -> bytes:
    """A real, valid PNG (so the sample files are what they claim to be)."""
    rows = b"".join(b"\x00" + bytes(((x * 31 + y * 17 + seed) % 256) for x in range(width * 3)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


SAMPLE_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)
FILES = {
    "sample.png": (png(seed=1), "image/png"),
    "other.png": (png(seed=2), "image/png"),
    "sample.pdf": (SAMPLE_PDF, "application/pdf"),
    "not-an-image.gif": (b"GIF89a" + b"\x00" * 32, "image/gif"),
}


def create_app(given: SandboxState | None = None) -> Starlette:
    state = given or SandboxState()

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True, "providers": base_urls(str(request.base_url))})

    async def reset(request: Request) -> Response:
        state.reset()
        return JSONResponse({"ok": True})

    async def knobs(request: Request) -> Response:
        provider = request.path_params["provider"]
        if provider not in state.knobs:
            return JSONResponse({"error": f"unknown provider {provider}"}, status_code=404)
        if request.method == "POST":
            state.knobs[provider].update(await request.json())
        return JSONResponse(state.knobs[provider].to_dict())

    async def requests_log(request: Request) -> Response:
        provider = request.query_params.get("provider")
        entries = [e for e in state.log.entries if provider is None or e["provider"] == provider]
        return JSONResponse({"requests": entries})

    async def printeers_config(request: Request) -> Response:
        state.printeers.configure(await request.json())
        return JSONResponse({"ok": True, "throttled_total": state.printeers.throttled_total()})

    async def printeers_org(request: Request) -> Response:
        key = request.headers.get("x-printeers-secret-key", "")
        return JSONResponse(org_summary(state.printeers, key))

    async def printapi_config(request: Request) -> Response:
        state.printapi.configure(await request.json())
        return JSONResponse({"ok": True})

    async def printapi_client(request: Request) -> Response:
        return JSONResponse(printapi_summary(state.printapi, request.path_params["client_id"]))

    async def idealfactory_config(request: Request) -> Response:
        state.idealfactory.configure(await request.json())
        return JSONResponse({"ok": True})

    async def idealfactory_client(request: Request) -> Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        return JSONResponse(idealfactory_summary(state.idealfactory, token))

    async def printnow_config(request: Request) -> Response:
        state.printnow.configure(await request.json())
        return JSONResponse({"ok": True})

    async def printnow_orders(request: Request) -> Response:
        if request.method == "POST":
            body = await request.json() if await request.body() else {}
            return JSONResponse(state.printnow.create(int(body.get("items", 2))), status_code=201)
        order = state.printnow.orders.get(int(request.query_params.get("id", "0")))
        return JSONResponse(order["order"] if order else None)

    async def printlane_stores(request: Request) -> Response:
        state.printlane.register(await request.json())
        return JSONResponse({"ok": True})

    async def printlane_store(request: Request) -> Response:
        return JSONResponse(printlane_summary(state.printlane, request.path_params["store_id"]))

    async def files(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in FILES:
            return Response(status_code=404)
        data, media_type = FILES[name]
        return Response(data, media_type=media_type)

    admin: list[Any] = [
        Route("/_sandbox/health", health),
        Route("/_sandbox/reset", reset, methods=["POST"]),
        Route("/_sandbox/knobs/{provider}", knobs, methods=["GET", "POST"]),
        Route("/_sandbox/requests", requests_log),
        Route("/_sandbox/printeers/config", printeers_config, methods=["POST"]),
        Route("/_sandbox/printeers/org", printeers_org),
        Route("/_sandbox/printapi/config", printapi_config, methods=["POST"]),
        Route("/_sandbox/printapi/clients/{client_id}", printapi_client),
        Route("/_sandbox/idealfactory/config", idealfactory_config, methods=["POST"]),
        Route("/_sandbox/idealfactory/client", idealfactory_client),
        Route("/_sandbox/printnow/config", printnow_config, methods=["POST"]),
        Route("/_sandbox/printnow/orders", printnow_orders, methods=["GET", "POST"]),
        Route("/_sandbox/printlane/stores", printlane_stores, methods=["POST"]),
        Route("/_sandbox/printlane/stores/{store_id}", printlane_store),
        Route("/_sandbox/files/{name}", files),
    ]

    class Dynamic:
        """Resolves knobs at call time so that ``reset`` takes effect for the mounted apps too."""

        def __init__(self, provider: str, app: Any) -> None:
            self.provider, self.app = provider, app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            await Faulty(self.provider, self.app(), state.knobs[self.provider], state.log)(scope, receive, send)

    built: dict[str, tuple[int, Starlette]] = {}

    def provider_app(provider: str, factory: Any) -> Any:
        """The provider's app for the current state object (rebuilt after a reset)."""

        def current() -> Starlette:
            provider_state = getattr(state, provider)
            if provider not in built or built[provider][0] != id(provider_state):
                built[provider] = (id(provider_state), factory(provider_state))
            return built[provider][1]

        return current

    mounts = [
        Mount(PREFIXES["printeers"], app=Dynamic("printeers", provider_app("printeers", create_printeers))),
        Mount(PREFIXES["printapi"], app=Dynamic("printapi", provider_app("printapi", create_printapi))),
        Mount(PREFIXES["idealfactory"], app=Dynamic("idealfactory", provider_app("idealfactory", create_idealfactory))),
        Mount(PREFIXES["printnow"], app=Dynamic("printnow", provider_app("printnow", create_printnow))),
        Mount(PREFIXES["printlane"], app=Dynamic("printlane", provider_app("printlane", create_printlane))),
    ]
    app = Starlette(routes=[*admin, *mounts])
    app.state.sandbox = state
    return app
