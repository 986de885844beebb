"""A sixth provider, whole in one file: its settings, adapter, sandbox stand-in and registration.

It exists to prove the claim of :mod:`worker.adapters.registry`: a provider is its adapter module,
its sandbox module and its tests, and nothing else is edited. Processes started with
``PRINTRELAY_PLUGINS=tests.integration.toy_provider`` know it (settings ``PRINTRELAY_TOY__…``,
queue ``printrelay.toy``, the sandbox mount ``/toy/v1``); nothing in printrelay names it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from config.provider_settings import ProviderSettings
from worker.adapters.base import Adapter, Call, require
from worker.adapters.registry import Provider, SandboxSpec
from worker.http import classify_status, describe, json_body, send, unreadable
from worker.outcome import Outcome


class ToySettings(ProviderSettings):
    base_url: str = "https://api.toy.invalid/v1"
    token: SecretStr | None = None


class TrackOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_id: str = Field(min_length=1)


class ToyAdapter(Adapter):
    """``track_order``: ``GET /orders/{id}`` with a bearer token; the order's status is the result."""

    name = "toy"
    payloads = {"track_order": TrackOrder}
    idempotent = frozenset({"track_order"})

    def track_order(self, call: Call) -> Outcome:
        settings = call.settings
        token = require(getattr(settings, "token", None), "PRINTRELAY_TOY__TOKEN").get_secret_value()
        url = f"{settings.base_url.rstrip('/')}/orders/{call.payload['order_id']}"
        request = call.client.build_request("GET", url, headers={"Authorization": f"Bearer {token}"})
        response = send(call.client, request, idempotent=True)
        if isinstance(response, Outcome):
            return response
        if (generic := classify_status(response, idempotent=True)) is not None:
            return generic
        if not response.is_success:
            return Outcome.permanent(f"http_{response.status_code}", response.text[:200], http_status=response.status_code)
        body = json_body(response)
        if not isinstance(body, dict):
            return unreadable(response, idempotent=True, expected="an order")
        return Outcome.done({"order_id": body.get("id"), "status": body.get("status")}, http_status=200).with_request(describe(request))


@dataclass
class ToyState:
    lookups: list[str] = field(default_factory=list)


def create_toy(state: ToyState) -> Starlette:
    async def order(request: Request) -> Response:
        if not request.headers.get("authorization", "").startswith("Bearer toy-"):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        state.lookups.append(request.path_params["order_id"])
        return JSONResponse({"id": request.path_params["order_id"], "status": "shipped"})

    return Starlette(routes=[Route("/orders/{order_id}", order)])


def controls(current: Any) -> list[Route]:
    async def lookups(request: Request) -> Response:
        return JSONResponse({"lookups": current().lookups})

    return [Route("/_sandbox/toy/lookups", lookups)]


PROVIDER = Provider(
    name="toy",
    adapter=ToyAdapter(),
    settings=ToySettings,
    base_url="https://api.toy.invalid/v1",
    rate_limits={"default": (60, 60.0)},
    sandbox=SandboxSpec(
        prefix="/toy/v1",
        app="tests.integration.toy_provider:create_toy",
        state="tests.integration.toy_provider:ToyState",
        settings=lambda base_url, tag: {"base_url": base_url, "token": f"toy-{tag}"},
        controls="tests.integration.toy_provider:controls",
    ),
    order=900,
)
