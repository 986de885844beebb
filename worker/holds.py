"""Holding a provider account's jobs: an operator's pause (CONTRACT.md, "Providers").

A paused (provider, account) is not called: a worker that claims one of its jobs hands it back
to ``waiting`` with ``waiting_for: provider`` — no attempt, no retry budget spent, the deadline
still holding — until the pause runs out (the job is then due, and beat's dispatcher queues it)
or an operator resumes it (its held jobs are queued at once). Queued again, they take their
rate-limit slots like any job, so they go on spaced out, not as a herd.

The pause lives in the database, not in Redis: a Redis that forgot must not unpause a provider.
Workers read it through a cache of :data:`CACHE_SECONDS`, so a pause reaches every worker
within about a second, at the cost of one small query per provider account and second. While the
database cannot be reached, a worker goes by what it last read.

    >>> holds = Holds(store)                                                 # doctest: +SKIP
    >>> holds.pause("printeers", "default", seconds=600, reason="their outage", actor="cli:ops")  # doctest: +SKIP
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from worker import transitions
from worker.jobview import iso
from worker.states import JobState
from worker.store import Job, ProviderEvent, ProviderPause, Store
from worker.store.reachability import unreachable
from worker.store.types import utcnow

#: How long a worker trusts what it read about a pause.
CACHE_SECONDS = 1.0
#: A job held by a pause without an end looks again this often (a resume releases it at once).
RECHECK_SECONDS = 60.0
#: ``waiting_for`` of a held job.
HELD = "provider"


@dataclass(frozen=True)
class Pause:
    provider: str
    account: str
    until: datetime | None
    reason: str | None
    actor: str
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"until": iso(self.until), "reason": self.reason, "by": self.actor, "at": iso(self.at)}


class Holds:
    def __init__(self, store: Store, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.store, self.clock = store, clock
        self._cache: dict[tuple[str, str], tuple[float, Pause | None]] = {}
        self._lock = threading.Lock()

    def pause(self, provider: str, account: str, *, seconds: float | None, reason: str | None, actor: str) -> Pause:
        """Pause (or re-pause, replacing the previous one) a provider account."""
        now = self.clock()
        until = now + timedelta(seconds=seconds) if seconds else None
        with self.store.transaction() as session:
            row = session.get(ProviderPause, (provider, account))
            if row is None:
                session.add(ProviderPause(provider=provider, account=account, until=until, reason=reason, actor=actor, at=now))
            else:
                row.until, row.reason, row.actor, row.at = until, reason, actor, now
            detail = "; ".join(filter(None, [f"until {iso(until)}" if until else "until resumed", reason]))
            session.add(ProviderEvent(provider=provider, account=account, action="pause", actor=actor, detail=detail, at=now))
        self._forget(provider, account)
        return Pause(provider, account, until, reason, actor, now)

    def resume(self, provider: str, account: str, *, actor: str) -> list[tuple[str, str, str]]:
        """End the pause; the held jobs are queued now. Returns them (id, kind, provider) for
        the caller to publish."""
        now = self.clock()
        with self.store.transaction() as session:
            session.execute(delete(ProviderPause).where(ProviderPause.provider == provider, ProviderPause.account == account))
            session.add(ProviderEvent(provider=provider, account=account, action="resume", actor=actor, at=now))
        self._forget(provider, account)
        return self.release(provider, account)

    def release(self, provider: str, account: str) -> list[tuple[str, str, str]]:
        """Queue the jobs held for the account (a resume, a closed circuit); (id, kind, provider)
        of each, for the caller to publish. A job still held by something else (a pause, while
        the circuit closes) is held again when a worker claims it."""
        now = self.clock()
        with self.store.transaction() as session:
            released = transitions.move(
                session,
                "dispatch",
                Job.provider == provider,
                Job.account == account,
                Job.waiting_for == HELD,
                to=JobState.QUEUED,
                values={"queued_at": now, "next_attempt_at": None, "updated_at": now},
                returning=(Job.id, Job.kind, Job.provider),
            ).all()
        return [(str(row.id), str(row.kind), str(row.provider)) for row in released]

    def active(self, provider: str, account: str, *, fresh: bool = False) -> Pause | None:
        """The pause in force for the account, if any (read at most once a second per process;
        ``fresh`` reads it now: before holding a job, as a resume elsewhere releases held jobs
        at once and a cached pause would hold them again)."""
        key = (provider, account)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and cached[0] > time.monotonic() and not fresh:
            pause = cached[1]
        else:
            try:
                with self.store.transaction() as session:
                    row = session.get(ProviderPause, key)
                    pause = Pause(row.provider, row.account, row.until, row.reason, row.actor, row.at) if row else None
            except Exception as exc:
                if not unreachable(exc):
                    raise
                # the database blinked: what this process last knew is the best answer there is
                pause = cached[1] if cached is not None else None
            else:
                with self._lock:
                    self._cache[key] = (time.monotonic() + CACHE_SECONDS, pause)
        if pause is not None and pause.until is not None and pause.until <= self.clock():
            return None  # it ran out
        return pause

    def all(self) -> dict[tuple[str, str], Pause]:
        """Every pause in force, by (provider, account)."""
        now = self.clock()
        with self.store.transaction() as session:
            rows = session.execute(select(ProviderPause)).scalars().all()
            return {
                (r.provider, r.account): Pause(r.provider, r.account, r.until, r.reason, r.actor, r.at)
                for r in rows
                if r.until is None or r.until > now
            }

    def held_until(self, pause: Pause) -> datetime:
        """When a job held by ``pause`` looks again: the pause's end, or a recheck (the gate
        keeps it within the job's deadline)."""
        return pause.until or self.clock() + timedelta(seconds=RECHECK_SECONDS)

    def _forget(self, provider: str, account: str) -> None:
        with self._lock:
            self._cache.pop((provider, account), None)
