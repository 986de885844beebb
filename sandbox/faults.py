"""Knobs and one-off faults, applied in front of every provider's routes.

Standing knobs per provider: ``latency`` (seconds added to every answer), ``error_rate``
(fraction answered 500 with an HTML page, as a broken proxy would), ``outage_until`` (epoch
seconds; until then every call is a 503 HTML page without Retry-After).

One-off faults (a list, consumed in order, each matching an optional method and path part):

- ``{"kind": "status", "status": 500}`` — answer that status with an HTML page, do nothing
  (``"retry_after": N`` adds that header);
- ``{"kind": "throttle", "retry_after": 3}`` — a 429 with ``Retry-After``;
- ``{"kind": "hang", "seconds": 5}`` — *do* the work, then answer only after ``seconds``
  (a client with a shorter read timeout sees a lost answer to a call that happened);
- ``{"kind": "truncate"}`` — do the work, then cut the body short (Content-Length larger than
  what is sent): a dropped connection after the request was acted on.

Each fault may carry ``"times": N`` (default 1).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTML_ERROR = b"<html><head><title>Error</title></head><body><h1>Something went wrong</h1></body></html>"


@dataclass
class Knobs:
    latency: float = 0.0
    error_rate: float = 0.0
    outage_until: float = 0.0
    faults: list[dict[str, Any]] = field(default_factory=list)

    def update(self, data: dict[str, Any]) -> None:
        if "latency" in data:
            self.latency = float(data["latency"])
        if "error_rate" in data:
            self.error_rate = float(data["error_rate"])
        if "outage_seconds" in data:
            self.outage_until = time.time() + float(data["outage_seconds"])
        if "outage_until" in data:
            self.outage_until = float(data["outage_until"])
        if data.get("clear_faults"):
            self.faults = []
        for fault in data.get("faults", []):
            self.faults.append({"times": 1, **fault})

    def take_fault(self, method: str, path: str) -> dict[str, Any] | None:
        for fault in self.faults:
            if fault.get("method", method).upper() != method.upper():
                continue
            if fault.get("path", "") not in path:
                continue
            fault["times"] -= 1
            if fault["times"] <= 0:
                self.faults.remove(fault)
            return fault
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"latency": self.latency, "error_rate": self.error_rate, "outage_until": self.outage_until, "faults": list(self.faults)}


@dataclass
class RequestLog:
    entries: list[dict[str, Any]] = field(default_factory=list)
    limit: int = 100_000

    def add(self, **entry: Any) -> None:
        self.entries.append(entry)
        if len(self.entries) > self.limit:
            del self.entries[: len(self.entries) - self.limit]


class Faulty:
    """ASGI wrapper: applies one provider's knobs and faults and logs every request."""

    def __init__(self, provider: str, app: ASGIApp, knobs: Knobs, log: RequestLog) -> None:
        self.provider, self.app, self.knobs, self.log = provider, app, knobs, log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        entry: dict[str, Any] = {"provider": self.provider, "method": method, "path": path, "time": time.time(), "status": None}
        self.log.add(**entry)
        entry = self.log.entries[-1]
        knobs = self.knobs
        if knobs.latency:
            await asyncio.sleep(knobs.latency)
        if knobs.outage_until > time.time():
            entry["status"] = 503
            await _html(send, 503)
            return
        if knobs.error_rate and random.random() < knobs.error_rate:
            entry["status"] = 500
            await _html(send, 500)
            return
        fault = knobs.take_fault(method, path)
        if fault is None:
            await self.app(scope, receive, _recording(send, entry))
            return
        entry["fault"] = fault["kind"]
        if fault["kind"] == "status":
            entry["status"] = int(fault.get("status", 500))
            extra = [(b"retry-after", str(fault["retry_after"]).encode())] if "retry_after" in fault else []
            await _respond(send, entry["status"], [(b"content-type", b"text/html; charset=utf-8"), *extra], HTML_ERROR)
        elif fault["kind"] == "throttle":
            entry["status"] = 429
            body = json.dumps({"code": "rate_limited", "message": "Too many requests"}).encode()
            headers = [(b"content-type", b"application/json"), (b"retry-after", str(fault.get("retry_after", 1)).encode())]
            await _respond(send, 429, headers, body)
        elif fault["kind"] == "hang":
            messages: list[Message] = []

            async def hold(message: Message) -> None:
                messages.append(message)

            await self.app(scope, receive, hold)  # the work happens now
            await asyncio.sleep(float(fault.get("seconds", 5)))
            for message in messages:
                await send(message)
        elif fault["kind"] == "truncate":
            held: list[Message] = []

            async def keep(message: Message) -> None:
                held.append(message)

            await self.app(scope, receive, keep)
            start = held[0]
            body = b"".join(m.get("body", b"") for m in held[1:])
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body) + 1000).encode()))
            entry["status"] = start["status"]
            await send({"type": "http.response.start", "status": start["status"], "headers": headers})
            await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
            raise ConnectionAbortedError("sandbox: truncated on purpose")
        else:
            await self.app(scope, receive, _recording(send, entry))


def _recording(send: Send, entry: dict[str, Any]) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            entry["status"] = message["status"]
        await send(message)

    return wrapped


async def _html(send: Send, status: int) -> None:
    await _respond(send, status, [(b"content-type", b"text/html; charset=utf-8")], HTML_ERROR)


async def _respond(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
