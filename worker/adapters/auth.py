"""How the providers authenticate, as ``httpx.Auth`` classes attached where a client is built.

An adapter's :meth:`~worker.adapters.base.Adapter.auth` returns one of these for an account's
settings; the runtime builds each (provider, account) client with it, so an adapter's requests
carry no credentials of their own making. Credentials are read when a request is sent, not
when the client is built: a missing one fails that job as ``not_configured``, not the worker.

Example, the flow of :class:`OAuthClientCredentials` (httpx's ``response = yield request``)::

    token = cached or (yield POST {token_url}: client credentials)
    response = yield request + "Authorization: Bearer {token}"
    if response is 401: drop token; token = yield POST …; response = yield request again
    still 401 → Failed(permanent "unauthorized")

Every class here is scoped to the provider's base URL: a request elsewhere (a design fetched
from the producer's URL, a print file on a storage host) leaves without the provider's
credentials, though it goes through the same client.

Warning: these objects are shared by the threads of a worker process (one client per provider
and account); whatever they cache is guarded by a lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Mapping
from typing import Any

import httpx
from pydantic import SecretStr

from worker.adapters.base import Failed, require
from worker.http import classify_status, describe, error_message, json_body, unreadable
from worker.outcome import Outcome

#: A token is refreshed this long before it expires.
REFRESH_MARGIN = 60.0


def in_scope(request: httpx.Request, base_url: str) -> bool:
    """Whether ``request`` goes to the provider (its URL is under ``base_url``)."""
    return str(request.url).startswith(base_url.rstrip("/") + "/") or str(request.url) == base_url.rstrip("/")


class HeaderAuth(httpx.Auth):
    """Headers on every request to the provider, computed when it is sent (Printeers' key)."""

    def __init__(self, base_url: str, headers: Callable[[], Mapping[str, str]]) -> None:
        self.base_url, self._headers = base_url, headers

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if in_scope(request, self.base_url):
            request.headers.update(self._headers())
        yield request


def bearer(base_url: str, token: Callable[[], SecretStr | None], setting: str) -> HeaderAuth:
    """``Authorization: Bearer`` with the setting's token (Ideal Factory)."""
    return HeaderAuth(base_url, lambda: {"Authorization": f"Bearer {require(token(), setting).get_secret_value()}"})


class LazyBasicAuth(httpx.Auth):
    """HTTP Basic with credentials read when sent (PrintNow's ``token:key``, RFC 7617)."""

    def __init__(self, base_url: str, credentials: Callable[[], tuple[str, str]]) -> None:
        self.base_url, self._credentials = base_url, credentials

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if in_scope(request, self.base_url):
            yield from httpx.BasicAuth(*self._credentials()).auth_flow(request)
        else:
            yield request


class OAuthClientCredentials(httpx.Auth):
    """OAuth 2 client credentials at ``{base_url}/oauth`` with a cached token, refreshed before it
    expires and once on a 401 (Print API, PROVIDERS.md). Tokens obtained are handed to ``remember`` (the runtime's
    redactor), so they never reach an attempt row or a log line."""

    requires_response_body = True

    def __init__(
        self,
        base_url: str,
        credentials: Callable[[], tuple[str, str]],
        *,
        provider: str,
        remember: Callable[[str], None] = lambda token: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url, self.token_url = base_url, base_url.rstrip("/") + "/oauth"
        self._credentials, self.provider, self._remember, self._clock = credentials, provider, remember, clock
        self._token: tuple[str, float] | None = None
        self._lock = threading.Lock()

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if not in_scope(request, self.base_url):
            yield request
            return
        token = self._cached()
        if token is None:
            token = yield from self._fetch()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != 401:
            return
        self._drop(token)
        token = yield from self._fetch()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            self._drop(token)
            message = f"{self.provider} refused a fresh token: {error_message(response)}"
            raise Failed(Outcome.permanent("unauthorized", message, http_status=401).with_request(describe(request)))

    def _cached(self) -> str | None:
        with self._lock:
            if self._token and self._token[1] - REFRESH_MARGIN > self._clock():
                return self._token[0]
            return None

    def _drop(self, token: str) -> None:
        with self._lock:
            if self._token and self._token[0] == token:
                self._token = None

    def _fetch(self) -> Generator[httpx.Request, httpx.Response, str]:
        client_id, secret = self._credentials()
        data = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
        response = yield httpx.Request("POST", self.token_url, data=data, headers={"Accept": "application/json"})
        if (generic := classify_status(response, idempotent=True)) is not None:
            raise Failed(generic)
        if response.status_code in (400, 401):
            message = f"{self.provider} refused the client credentials: {error_message(response)}"
            raise Failed(Outcome.permanent("unauthorized", message, http_status=response.status_code))
        body: Any = json_body(response)
        if not response.is_success or not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise Failed(unreadable(response, idempotent=True, expected="an access token"))
        token = str(body["access_token"])
        self._remember(token)
        with self._lock:
            self._token = (token, self._clock() + float(body.get("expires_in") or 3600))
        return token
