"""Sending one request and classifying what went wrong, the same way for every adapter.

Network failures are split by *whether the request may have reached the provider*:

- not sent (connect refused or timed out, no free connection): ``transient`` — safe to repeat;
- sent, answer lost (read timeout, connection dropped, body cut short): ``transient`` for an
  idempotent call, ``ambiguous`` for one that is not (an order submit), which the runner
  reconciles with the provider instead of repeating.

Statuses every provider shares are classified by :func:`classify_status`; an adapter looks at
the response itself first when its provider gives a status a special meaning (a PrintNow 409).
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from worker.outcome import Outcome
from worker.waiting.headers import parse_retry_after, reset_from_headers

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def describe(request: httpx.Request) -> str:
    """``"POST /v2/orders"``: what an attempt row says was sent. No query, no headers, no body."""
    return f"{request.method} {request.url.path}"[:255]


def send(client: httpx.Client, request: httpx.Request, *, idempotent: bool) -> httpx.Response | Outcome:
    """Send ``request`` and read the whole body; a network failure becomes an Outcome."""
    try:
        return client.send(request)
    except httpx.HTTPError as exc:
        return network_failure(exc, idempotent=idempotent).with_request(describe(request))


def network_failure(exc: httpx.HTTPError, *, idempotent: bool) -> Outcome:
    name = type(exc).__name__
    if isinstance(exc, _NOT_SENT):
        return Outcome.transient("connect_failed", f"the request was not sent ({name})")
    if isinstance(exc, httpx.TimeoutException):
        code, what = "timeout", f"no answer in time ({name})"
    else:
        code, what = "connection_lost", f"the connection failed after the request was sent ({name})"
    if idempotent:
        return Outcome.transient(code, what)
    return Outcome.ambiguous(code, what + "; the provider may have acted on it")


def classify_status(response: httpx.Response, *, idempotent: bool) -> Outcome | None:
    """The outcome for statuses with one meaning everywhere, or ``None`` for the adapter to read.

    429 and a 503 with Retry-After are ``throttled``; other 5xx and 408 are ``transient`` (a
    gateway timeout, 502/504, after a non-idempotent call is ``ambiguous``: the backend may
    have finished it). 2xx and other 4xx are left to the adapter, which knows the error body.
    """
    status = response.status_code
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    request = describe(response.request)
    if status == 429:
        wait = retry_after if retry_after is not None else reset_from_headers(response.headers)
        return Outcome.throttled("the provider's rate limit was reached", http_status=status, retry_after=wait).with_request(request)
    if status == 503 and retry_after is not None:
        return Outcome.throttled("the provider asked to come back later", http_status=status, retry_after=retry_after).with_request(request)
    if status in (502, 504) and not idempotent:
        return Outcome.ambiguous(
            f"http_{status}",
            f"HTTP {status} from a gateway after the request was sent; the provider may have acted on it",
            http_status=status,
        ).with_request(request)
    if status >= 500 or status == 408:
        return Outcome.transient(
            f"http_{status}", f"HTTP {status}{_body_hint(response)}", http_status=status, retry_after=retry_after
        ).with_request(request)
    return None


def json_body(response: httpx.Response) -> Any | None:
    """The body as JSON, or ``None`` if it is not JSON (an HTML error page, a truncated body)."""
    content_type = response.headers.get("content-type", "")
    if "json" not in content_type:
        return None
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None


def unreadable(response: httpx.Response, *, idempotent: bool, expected: str) -> Outcome:
    """A success status whose body we cannot read (wrong content type, truncated, not JSON).

    For a call that changed something at the provider this is ``ambiguous``: it probably worked
    but we do not know the reference it made.
    """
    message = f"HTTP {response.status_code} but the body is not {expected}{_body_hint(response)}"
    outcome = (
        Outcome.transient("bad_response", message, http_status=response.status_code)
        if idempotent
        else Outcome.ambiguous("bad_response", message, http_status=response.status_code)
    )
    return outcome.with_request(describe(response.request))


MESSAGE_KEYS = ("message", "Message", "error_description", "error", "detail")


def error_message(response: httpx.Response) -> str:
    """The human message in a provider's error body, whatever the key it uses (and field
    errors, as Laravel-style APIs send them); a plain-text body; else just the status."""
    body = json_body(response)
    if isinstance(body, dict):
        text = next((str(body[k]) for k in MESSAGE_KEYS if isinstance(body.get(k), str)), f"HTTP {response.status_code}")
        if isinstance(body.get("errors"), dict):
            text += ": " + "; ".join(f"{k}: {v}" for k, v in body["errors"].items())
        return text
    if "text/plain" in response.headers.get("content-type", "") and response.text.strip():
        return response.text.strip()[:300]
    return f"HTTP {response.status_code}"


def _body_hint(response: httpx.Response) -> str:
    content_type = response.headers.get("content-type", "").split(";")[0].strip()
    size = len(response.content)
    return f" ({content_type or 'no content type'}, {size} bytes)" if size else ""
