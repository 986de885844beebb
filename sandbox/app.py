"""The sandbox server: the providers under their prefixes, and the ``/_sandbox`` control panel.

Every registered provider with a sandbox stand-in (``SandboxSpec``, declared in its adapter
module) is mounted under its prefix, with its control-panel routes. Control panel (JSON):

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

import importlib
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from sandbox.faults import Faulty, Knobs, RequestLog
from worker.adapters.registry import SandboxSpec, providers


def _load(spec: str) -> Any:
    """``"module:name"`` -> the object (a provider's sandbox app factory, state class, controls)."""
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def _sandboxed() -> dict[str, SandboxSpec]:
    """Every registered provider that has a sandbox stand-in, by name."""
    return {name: p.sandbox for name, p in providers().items() if p.sandbox is not None}


def prefixes() -> dict[str, str]:
    """Where each provider lives on the sandbox, relative to its root URL."""
    return {name: spec.prefix for name, spec in _sandboxed().items()}


@dataclass
class SandboxState:
    """The knobs and the state of each provider's stand-in (``providers[name]``)."""

    knobs: dict[str, Knobs] = field(default_factory=lambda: {p: Knobs() for p in _sandboxed()})
    log: RequestLog = field(default_factory=RequestLog)
    providers: dict[str, Any] = field(default_factory=lambda: {name: _load(spec.state)() for name, spec in _sandboxed().items()})

    def reset(self) -> None:
        fresh = SandboxState()
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))

    def __getattr__(self, name: str) -> Any:
        # ``state.printeers``: one provider's state (for the control panel and tests)
        providers = self.__dict__.get("providers", {})
        if name in providers:
            return providers[name]
        raise AttributeError(name)


def base_urls(root: str) -> dict[str, str]:
    return {provider: root.rstrip("/") + prefix for provider, prefix in prefixes().items()}


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
            provider_state = state.providers[provider]
            if provider not in built or built[provider][0] != id(provider_state):
                built[provider] = (id(provider_state), factory(provider_state))
            return built[provider][1]

        return current

    mounts = []
    for name, spec in _sandboxed().items():
        mounts.append(Mount(spec.prefix, app=Dynamic(name, provider_app(name, _load(spec.app)))))
        if spec.controls:
            admin.extend(_load(spec.controls)(lambda name=name: state.providers[name]))
    app = Starlette(routes=[*admin, *mounts])
    app.state.sandbox = state
    return app
