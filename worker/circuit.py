"""A circuit per provider account: when its calls keep failing across jobs, stop calling it.

Closed (the usual state), every job calls. When, within ``window`` seconds, ``failures`` calls
of at least ``jobs`` different jobs fail the way a provider that is down fails — refused or
timed-out connections, 5xx without Retry-After — the circuit **opens**: the account's jobs are
held (``waiting_for: provider``) without spending attempts or retry budget, their deadline
still holding. One job at a time is let through as the **probe**, first after ``probe_min``
seconds, then on a doubling backoff up to ``probe_max``. When a call is answered (any answer: a
2xx, a 4xx, a 429), the circuit **closes** and the held jobs are queued: they take their
rate-limit slots, so they arrive spaced out, not as a herd.

A job whose *own* call fails while the provider answers others is not shielded: one job's
failures never open the circuit (``jobs`` ≥ 2), and its budget counts as always.

State lives in Redis, shared by every worker (Redis's own clock). Redis unreachable: every job
calls, as if closed (the per-job backoff still applies).

A process remembers a closed circuit with no recent failures for :data:`CACHE_SECONDS`: the
common case — a provider that answers — then costs no Redis round trip per call at all. The
price: a circuit another worker opened is seen up to that much later, and a success in that
time does not wipe failures other workers just recorded (they count on, for at most the window).

Example, with the defaults (5 failures of 2 jobs within 30 s; probes from 2 s to 60 s)::

    t=0..3  five jobs' calls fail with connection refused  → open, next probe at t+2
    t=5     a job is the probe; refused again              → next probe in 4 s
    t=9     the probe is answered                          → closed; held jobs queued
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import redis

from config.settings import CircuitSettings
from worker.outcome import Outcome
from worker.states import OutcomeKind

log = logging.getLogger("printrelay.circuit")
PREFIX = "printrelay:circuit"
#: How long a process trusts that a circuit is closed and has no recent failures.
CACHE_SECONDS = 0.5
#: Error codes of calls that did not reach a working provider (see worker.http).
DOWN_CODES = frozenset({"connect_failed", "timeout", "connection_lost"})


def provider_down(outcome: Outcome) -> bool | None:
    """``True``: the call failed as a provider that is down fails. ``False``: the provider
    answered. ``None``: says nothing about the provider (printrelay's own error, a bad payload)."""
    if outcome.kind in (OutcomeKind.DONE, OutcomeKind.PENDING, OutcomeKind.THROTTLED):
        return False
    code = outcome.error_code or ""
    if code in DOWN_CODES:
        return True
    if outcome.http_status is not None and outcome.http_status >= 500:
        return outcome.retry_after is None
    if outcome.kind is OutcomeKind.PERMANENT and outcome.http_status is not None:
        return False  # a 4xx: the provider answered
    return None


@dataclass(frozen=True)
class CircuitState:
    provider: str
    account: str
    state: str  # closed | open
    next_probe_in: float | None = None
    backoff: float | None = None
    recent_failures: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Circuit:
    def __init__(self, client: redis.Redis, settings: CircuitSettings) -> None:
        self.client, self.settings = client, settings
        #: (provider, account) -> until when (monotonic) it is known closed with no failures
        self._quiet: dict[tuple[str, str], float] = {}

    def _known_quiet(self, provider: str, account: str) -> bool:
        return self._quiet.get((provider, account), 0.0) > time.monotonic()

    def _keys(self, provider: str, account: str) -> tuple[str, str, str]:
        base = f"{PREFIX}:{provider}:{account}"
        return f"{base}:failures", f"{base}:state", f"{base}:probe"

    def _now(self) -> float:
        seconds, micros = self.client.time()  # type: ignore[misc]
        return float(seconds) + float(micros) / 1e6

    def gate(self, provider: str, account: str, job_id: str) -> float | None:
        """``None``: call (the circuit is closed, or this job is the probe). Else the seconds
        to hold the job for (until the next probe may be due)."""
        if not self.settings.enabled or self._known_quiet(provider, account):
            return None
        failures_key, state_key, probe_key = self._keys(provider, account)
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.hgetall(state_key)
            pipe.exists(failures_key)
            state, failing = pipe.execute()
            if not state:
                if not failing:
                    self._quiet[(provider, account)] = time.monotonic() + CACHE_SECONDS
                return None
            now = self._now()
            next_probe = float(state[b"next_probe"])
            backoff = float(state[b"backoff"])
            if now >= next_probe and self.client.set(probe_key, job_id, nx=True, ex=max(60, int(backoff * 4))):
                log.info("%s/%s circuit open: job %s probes", provider, account, job_id)
                return None
            if now >= next_probe:  # another job is probing: look again after one backoff
                return backoff
            return next_probe - now
        except redis.RedisError:
            return None

    def record(self, provider: str, account: str, job_id: str, outcome: Outcome) -> str | float | None:
        """Learn from one call: ``"opened"`` or ``"closed"`` when the circuit changed; for a
        probe that failed, the seconds until the next probe (the probe job waits them out,
        its failure spent on the circuit's behalf, not counted against its own budget)."""
        if not self.settings.enabled or (down := provider_down(outcome)) is None:
            return None
        if not down and self._known_quiet(provider, account):
            return None  # closed, nothing to forget
        self._quiet.pop((provider, account), None)
        failures_key, state_key, probe_key = self._keys(provider, account)
        try:
            if not down:  # one round trip: was it open, and forget it all
                pipe = self.client.pipeline(transaction=False)
                pipe.delete(state_key)
                pipe.delete(failures_key, probe_key)
                opened = pipe.execute()[0]
                self._quiet[(provider, account)] = time.monotonic() + CACHE_SECONDS
                if opened:
                    log.warning("%s/%s answered again: circuit closed", provider, account)
                    return "closed"
                return None
            now = self._now()
            state = self.client.hgetall(state_key)
            if state:  # open: a probe failed (or a job that was already on its way)
                if self.client.get(probe_key) == job_id.encode():
                    backoff = min(float(state[b"backoff"]) * 2, self.settings.probe_max)
                    self.client.hset(state_key, mapping={"backoff": backoff, "next_probe": now + backoff})
                    self.client.delete(probe_key)
                    return backoff
                return None
            pipe = self.client.pipeline()
            pipe.zadd(failures_key, {f"{job_id}@{now}": now})
            pipe.zremrangebyscore(failures_key, 0, now - self.settings.window)
            pipe.zrange(failures_key, 0, -1)
            pipe.expire(failures_key, int(self.settings.window) + 1)
            members = pipe.execute()[2]
            jobs = {m.decode().rsplit("@", 1)[0] for m in members}
            if len(members) >= self.settings.failures and len(jobs) >= self.settings.jobs:
                backoff = self.settings.probe_min
                self.client.hset(state_key, mapping={"opened_at": now, "backoff": backoff, "next_probe": now + backoff})
                log.warning(
                    "%s/%s: %d failed calls of %d jobs in %g s: circuit open",
                    provider,
                    account,
                    len(members),
                    len(jobs),
                    self.settings.window,
                )
                return "opened"
        except redis.RedisError:
            log.debug("circuit not updated", exc_info=True)
        return None

    def status(self, provider: str, account: str) -> CircuitState:
        failures_key, state_key, _ = self._keys(provider, account)
        try:
            state = self.client.hgetall(state_key)
            recent = int(self.client.zcard(failures_key))
            if not state:
                return CircuitState(provider, account, "closed", recent_failures=recent)
            now = self._now()
            return CircuitState(provider, account, "open", max(0.0, float(state[b"next_probe"]) - now), float(state[b"backoff"]), recent)
        except redis.RedisError:
            return CircuitState(provider, account, "unknown")
