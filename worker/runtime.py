"""The objects one process shares: store, HTTP clients, runner, intake. Built lazily from the
settings; :func:`reset_runtime` rebuilds them (tests, the demo)."""

from __future__ import annotations

import logging
import threading
from typing import Any

import httpx
import redis
from celery.signals import worker_process_shutdown, worker_shutdown

from config.settings import Settings, get_settings, use_settings
from worker.adapters import ADAPTERS
from worker.circuit import Circuit
from worker.heartbeat import Heartbeat
from worker.holds import Holds
from worker.intake import Intake
from worker.journal import Journal
from worker.metrics import Counters
from worker.notify import Notifier, TaskSender
from worker.publishing import CeleryPublisher, Publisher
from worker.ratelimit import Limiter
from worker.redact import Redactor
from worker.runner import Runner
from worker.store import Store

log = logging.getLogger("printrelay.runtime")


class Runtime:
    def __init__(self, settings: Settings, publisher: Publisher | None = None, sender: TaskSender | None = None) -> None:
        self.settings = settings
        # a connection per worker thread, and a few for the heartbeat, beat's ticks and the producer
        self.store = Store(settings.database_url, pool_size=settings.worker_concurrency + 4)
        self.publisher: Publisher = publisher or CeleryPublisher()
        self._clients: dict[tuple[str, str], httpx.Client] = {}
        self._redactors: dict[str, Redactor] = {}
        self._lock = threading.Lock()
        self.limiter = Limiter(redis.Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5))
        self.counters = Counters(self.limiter.client)
        self.intake = Intake(self.store, settings, ADAPTERS, self.publisher)
        self.holds = Holds(self.store)
        self.heartbeat = Heartbeat(self.store, settings.lease_seconds)
        self.circuit = Circuit(self.limiter.client, settings.circuit)
        self.journal = Journal(self.limiter.client)
        self.notifier = Notifier(self.store, self.intake, sender or CeleryPublisher())
        self.runner = Runner(
            self.store,
            settings,
            ADAPTERS,
            self.client,
            self.publisher,
            redactor=self.redactor,
            holds=self.holds,
            heartbeat=self.heartbeat,
            circuit=self.circuit,
            journal=self.journal,
            limiter=self.limiter,
            counters=self.counters,
            notifier=self.notifier,
        )

    def client(self, provider: str, account: str = "default") -> httpx.Client:
        """One pooled client per provider, account and process (httpx clients are thread-safe),
        with the provider's authentication attached (:meth:`Adapter.auth`).

        Every answer's rate-limit headers (and 429s) are fed to the shared buckets.
        """

        def observe(response: httpx.Response) -> None:
            if response.status_code == 429:
                self.counters.throttled(provider)
            try:
                self.limiter.observe(provider, account, response.headers, response.status_code, self.settings.rate_limits(provider))
            except Exception:  # learning is best-effort: never fail the call for it
                log.warning("could not update the %s rate-limit buckets from a response", provider, exc_info=True)

        with self._lock:
            if (provider, account) not in self._clients:
                settings = self.settings.provider(provider)
                self._clients[(provider, account)] = ADAPTERS[provider].client(
                    settings.for_account(account),
                    self._redactor(provider).remember,
                    event_hooks={"response": [observe]},
                    timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
                    limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
                    headers={"User-Agent": "printrelay/0.1"},
                    follow_redirects=False,
                )
            return self._clients[(provider, account)]

    def redactor(self, provider: str) -> Redactor:
        """The provider's redactor: its settings' secrets and the tokens its clients obtained."""
        with self._lock:
            return self._redactor(provider)

    def _redactor(self, provider: str) -> Redactor:
        if provider not in self._redactors:
            self._redactors[provider] = Redactor.for_settings(self.settings.provider(provider))
        return self._redactors[provider]

    def close(self) -> None:
        self.heartbeat.stop()
        self.counters.flush()
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
        self.store.dispose()
        self.limiter.client.close()


_lock = threading.Lock()
_runtime: Runtime | None = None


def get_runtime() -> Runtime:
    global _runtime
    with _lock:
        if _runtime is None:
            _runtime = Runtime(get_settings())
        return _runtime


def _close_runtime(**_: Any) -> None:
    """A worker stopping closes the process's clients, pools and connections."""
    with _lock:
        if _runtime is not None:
            _runtime.close()


worker_shutdown.connect(_close_runtime, weak=False)
worker_process_shutdown.connect(_close_runtime, weak=False)


def reset_runtime(settings: Settings | None = None, publisher: Publisher | None = None, sender: TaskSender | None = None) -> Runtime:
    """Replace the process's runtime (and settings) with fresh ones."""
    global _runtime
    with _lock:
        if _runtime is not None:
            _runtime.close()
        use_settings(settings)
        _runtime = Runtime(settings or get_settings(), publisher, sender)
        return _runtime
