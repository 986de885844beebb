"""Prometheus metrics of the jobs themselves (Flower's own ``/metrics`` is about Celery tasks).

- ``printrelay_jobs{state,provider,kind}``: jobs by state, read from the database at scrape
  time, so every worker's jobs are counted once, whatever process serves the scrape.
- ``printrelay_attempts_total{provider,outcome}``: attempts by outcome, from the database.
- ``printrelay_queue_wait_seconds{provider}`` (sum and count): from when a job became due to
  when a worker claimed it.
- ``printrelay_bucket_waits_total{provider}``: jobs handed back to wait for a rate-limit slot.
- ``printrelay_throttled_total{provider}``: 429s the providers answered.

The last three are counted by the workers in Redis (``printrelay:metrics:*``): shared by all
workers, read by ``printrelay metrics``.

Per provider account, as ``printrelay providers`` shows them (:mod:`worker.fleet`):
``printrelay_jobs_held``, ``printrelay_provider_paused``, ``printrelay_circuit_open`` (1 while
its circuit holds its jobs), ``printrelay_bucket_available{bucket}`` and
``printrelay_bucket_frozen_seconds{bucket}`` (a 429's Retry-After still running).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from worker.store import Attempt, Job, ProviderPause, Store
from worker.store.types import utcnow

if TYPE_CHECKING:
    from worker.fleet import ProviderStatus

PREFIX = "printrelay:metrics"
#: The workers' counts reach Redis at most this long after they were counted.
FLUSH_SECONDS = 1.0
log = logging.getLogger("printrelay.metrics")


class Counters:
    """The workers' side: counts kept in the process and added to Redis at most once a second
    (:data:`FLUSH_SECONDS`), by the thread that counts or, when it goes quiet, by a small timer
    thread; so a job costs no Redis round trip for its metrics. Never fails the caller: a count
    that cannot be written is dropped (these are metrics, not records)."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._floats: dict[tuple[str, str], float] = {}
        self._ints: dict[tuple[str, str], int] = {}
        self._flushed = 0.0
        self._timer: threading.Timer | None = None

    def queue_wait(self, provider: str, seconds: float) -> None:
        self._add(floats={("queue_wait_sum", provider): max(0.0, seconds)}, ints={("queue_wait_count", provider): 1})

    def bucket_wait(self, provider: str) -> None:
        self._add(ints={("bucket_waits", provider): 1})

    def throttled(self, provider: str) -> None:
        self._add(ints={("throttled", provider): 1})

    def _add(self, *, floats: dict[tuple[str, str], float] | None = None, ints: dict[tuple[str, str], int] | None = None) -> None:
        with self._lock:
            for key, value in (floats or {}).items():
                self._floats[key] = self._floats.get(key, 0.0) + value
            for key, count in (ints or {}).items():
                self._ints[key] = self._ints.get(key, 0) + count
            due = time.monotonic() - self._flushed >= FLUSH_SECONDS
            if not due and self._timer is None:
                self._timer = threading.Timer(FLUSH_SECONDS, self.flush)
                self._timer.daemon = True
                self._timer.start()
        if due:
            self.flush()

    def flush(self) -> None:
        """Add what was counted to Redis now."""
        with self._lock:
            floats, ints, self._floats, self._ints = self._floats, self._ints, {}, {}
            self._flushed = time.monotonic()
            self._timer = None
        if not floats and not ints:
            return
        try:
            pipe = self.client.pipeline(transaction=False)
            for (name, provider), value in floats.items():
                pipe.hincrbyfloat(f"{PREFIX}:{name}", provider, value)
            for (name, provider), count in ints.items():
                pipe.hincrby(f"{PREFIX}:{name}", provider, count)
            pipe.execute()
        except redis.RedisError:
            log.debug("metrics counters not updated", exc_info=True)


class JobsCollector(Collector):
    def __init__(self, store: Store, client: redis.Redis, statuses: Callable[[], list[ProviderStatus]] | None = None) -> None:
        self.store, self.client, self.statuses = store, client, statuses

    def collect(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily("printrelay_jobs", "Jobs by state, provider and kind", labels=["state", "provider", "kind"])
        attempts = CounterMetricFamily("printrelay_attempts", "Attempts by provider and outcome", labels=["provider", "outcome"])
        with self.store.transaction() as session:
            for state, provider, kind, count in session.execute(
                select(Job.state, Job.provider, Job.kind, func.count()).group_by(Job.state, Job.provider, Job.kind)
            ):
                jobs.add_metric([state, provider, kind], count)
            query = (
                select(Job.provider, Attempt.outcome, func.count())
                .join(Job, Job.id == Attempt.job_id)
                .group_by(Job.provider, Attempt.outcome)
            )
            for provider, outcome, count in session.execute(query):
                attempts.add_metric([provider, outcome], count)
            held = GaugeMetricFamily("printrelay_jobs_held", "Waiting jobs of a paused provider account", labels=["provider", "account"])
            for provider, account, count in session.execute(
                select(Job.provider, Job.account, func.count())
                .where(Job.state == "waiting", Job.waiting_for == "provider")
                .group_by(Job.provider, Job.account)
            ):
                held.add_metric([provider, account], count)
            paused = GaugeMetricFamily(
                "printrelay_provider_paused", "1 while an operator's pause holds the account", labels=["provider", "account"]
            )
            now = utcnow()
            for provider, account, until in session.execute(select(ProviderPause.provider, ProviderPause.account, ProviderPause.until)):
                if until is None or until > now:
                    paused.add_metric([provider, account], 1)
        yield jobs
        yield attempts
        yield held
        yield paused
        wait = SummaryMetricFamily("printrelay_queue_wait_seconds", "From due to claimed", labels=["provider"])
        sums = self._hash("queue_wait_sum")
        counts = self._hash("queue_wait_count")
        for provider in sorted(counts):
            wait.add_metric([provider], count_value=int(counts[provider]), sum_value=sums.get(provider, 0.0))
        yield wait
        for name, text in (("bucket_waits", "Jobs handed back to wait for a rate-limit slot"), ("throttled", "429 answers from providers")):
            family = CounterMetricFamily(f"printrelay_{name}", text, labels=["provider"])
            for provider, value in sorted(self._hash(name).items()):
                family.add_metric([provider], value)
            yield family
        if self.statuses is not None:
            yield from self._accounts(self.statuses())

    def _accounts(self, statuses: list[ProviderStatus]) -> Iterator[Metric]:
        circuit = GaugeMetricFamily(
            "printrelay_circuit_open", "1 while the account's circuit holds its jobs", labels=["provider", "account"]
        )
        available = GaugeMetricFamily("printrelay_bucket_available", "Calls a bucket allows now", labels=["provider", "account", "bucket"])
        frozen = GaugeMetricFamily(
            "printrelay_bucket_frozen_seconds", "Seconds a 429 still freezes the bucket", labels=["provider", "account", "bucket"]
        )
        for status in statuses:
            state = (status.circuit or {}).get("state")
            if state in ("open", "closed"):
                circuit.add_metric([status.provider, status.account], 1.0 if state == "open" else 0.0)
            for name, bucket in (status.buckets or {}).items():
                available.add_metric([status.provider, status.account, name], bucket["available"])
                frozen.add_metric([status.provider, status.account, name], bucket["frozen_for"])
        yield circuit
        yield available
        yield frozen

    def _hash(self, name: str) -> dict[str, float]:
        try:
            raw = self.client.hgetall(f"{PREFIX}:{name}")
        except redis.RedisError:
            return {}
        return {k.decode(): float(v) for k, v in raw.items()}  # type: ignore[union-attr]
