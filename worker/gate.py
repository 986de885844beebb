"""Before a call: may this job call its provider now? Nothing the gate does is an attempt.

- **Held**: its provider account is paused (:mod:`worker.holds`) or its circuit is open
  (:mod:`worker.circuit`): back to ``waiting`` (``waiting_for: provider``) until the pause ends
  or the next probe may be due.
- **Handed back**: no rate-limit slot soon enough (:mod:`worker.ratelimit`): back to ``waiting``
  (``waiting_for: rate_limit``) for the slot it reserved.

Either way the job's attempt count is given back and no attempts row is written; a wait past
the job's deadline fails it at once (``deadline_exceeded``). After the call, :meth:`Gate.learn`
tells the circuit what the call said about the provider.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import redis

from config.settings import Settings
from worker import transitions
from worker.circuit import Circuit
from worker.holds import HELD, Holds
from worker.metrics import Counters
from worker.outcome import Outcome
from worker.publishing import Publisher, publish_all
from worker.ratelimit import Limiter
from worker.states import JobState
from worker.store import Job, Store
from worker.store.reachability import retrying
from worker.store.types import utcnow

log = logging.getLogger("printrelay.gate")


class Gate:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        publisher: Publisher,
        *,
        clock: Callable[[], datetime] = utcnow,
        limiter: Limiter | None = None,
        holds: Holds | None = None,
        circuit: Circuit | None = None,
        counters: Counters | None = None,
    ) -> None:
        self.store, self.settings, self.publisher, self.clock = store, settings, publisher, clock
        self.limiter, self.holds, self.circuit, self.counters = limiter, holds, circuit, counters

    def check(self, job: Job, token: str, buckets: dict[str, tuple[int, float]]) -> JobState | None:
        """``None``: call now. Else the state the job was put back in (waiting, or failed)."""
        if (
            self.holds is not None
            and self.holds.active(job.provider, job.account) is not None
            and (pause := self.holds.active(job.provider, job.account, fresh=True)) is not None
        ):
            by = f"paused by {pause.actor}" + (f": {pause.reason}" if pause.reason else "")
            return self._hold(job, token, self.holds.held_until(pause), by)
        if self.circuit is not None and (wait := self.circuit.gate(job.provider, job.account, job.id)) is not None:
            return self._hold(job, token, self.clock() + timedelta(seconds=wait), "its circuit is open (calls keep failing)")
        if self.limiter is not None and buckets:
            return self._take_slot(job, token, buckets)
        return None

    def learn(self, job: Job, outcome: Outcome) -> float | None:
        """Tell the circuit what the call said. When it closes, the held jobs go on (each
        through its rate-limit slot). Returns the seconds a failed probe waits before the next
        one: the probe's failure is the circuit's, not counted against the job's budget."""
        if self.circuit is None:
            return None
        learned = self.circuit.record(job.provider, job.account, job.id, outcome)
        if learned == "closed" and self.holds is not None:
            publish_all(self.store, self.publisher, self.holds.release(job.provider, job.account))
        return learned if isinstance(learned, float) else None

    def _take_slot(self, job: Job, token: str, buckets: dict[str, tuple[int, float]]) -> JobState | None:
        """Take the call's rate-limit slots; ``None`` to go ahead, else the state the job was
        handed back in (waiting for its slot, or failed if no slot comes before its deadline).

        A hand-back is not an attempt: it writes no attempts row and counts towards nothing.
        If Redis cannot be asked, the call goes ahead (the provider's 429 is the backstop).
        """
        assert self.limiter is not None
        try:
            wait, taken = self.limiter.acquire(
                job.provider,
                job.account,
                buckets,
                reserve_max=self.settings.rate_limit_reserve_max,
                reserved=job.slot_reserved,
                margin=self.settings.rate_limit_margin,
            )
        except redis.RedisError:
            log.warning("job %s: rate-limit buckets unreachable; calling without a slot", job.id)
            return None
        if taken and wait <= self.settings.rate_limit_inline_max:
            if wait > 0:
                time.sleep(wait)
            return None
        if self.counters is not None:
            self.counters.bucket_wait(job.provider)
        return self._hand_back(job, token, wait, reserved=taken)

    def _hold(self, job: Job, token: str, until: datetime, why: str) -> JobState:
        """The provider account is held (paused, or its circuit open): back to waiting
        (``waiting_for: provider``) until ``until`` without an attempt; failed if the job's
        deadline has passed."""
        now = self.clock()
        values: dict[str, Any] = {"lease_token": None, "lease_expires_at": None, "attempt_count": Job.attempt_count - 1, "updated_at": now}
        if job.deadline_at is not None and job.deadline_at <= now:
            state = JobState.FAILED
            values.update(error_code="deadline_exceeded", error_message=f"the provider stayed held past the job's deadline ({why})")
        else:
            state = JobState.WAITING
            until = min(until, job.deadline_at) if job.deadline_at is not None else until
            values.update(next_attempt_at=until, waiting_for=HELD)
        self._move_back(job, token, state, values)
        if state is JobState.WAITING:
            wait = (until - now).total_seconds()
            if wait <= self.settings.countdown_max:
                self._publish_wait(job, max(0.0, wait))
        log.info("job %s held: %s/%s: %s", job.id, job.provider, job.account, why)
        return state

    def _hand_back(self, job: Job, token: str, wait: float, *, reserved: bool) -> JobState:
        now = self.clock()
        when = now + timedelta(seconds=wait)
        values: dict[str, Any] = {
            "lease_token": None,
            "lease_expires_at": None,
            "attempt_count": Job.attempt_count - 1,
            "updated_at": now,
        }
        if job.deadline_at is not None and when > job.deadline_at:
            state = JobState.FAILED
            values.update(
                error_code="deadline_exceeded",
                error_message=f"no rate-limit slot before the deadline (next in {wait:.0f} s)",
            )
        else:
            state = JobState.WAITING
            values.update(next_attempt_at=when, slot_reserved=reserved, waiting_for="rate_limit")
        self._move_back(job, token, state, values)
        if state is JobState.WAITING and wait <= self.settings.countdown_max:
            self._publish_wait(job, wait)
        log.info("job %s waits %.2f s for a rate-limit slot%s", job.id, wait, " (reserved)" if reserved else "")
        return state

    def _publish_wait(self, job: Job, wait: float) -> None:
        """A short wait also goes out as a countdown (punctuality); if it cannot, the job is due
        on its own and beat's dispatcher queues it."""
        try:
            self.publisher.publish(job.id, job.kind, job.provider, countdown=wait)
        except Exception:
            log.warning("job %s: its countdown could not be published; beat dispatches it when due", job.id)

    def _move_back(self, job: Job, token: str, state: JobState, values: dict[str, Any]) -> None:
        """The hand-back itself, waiting for an unreachable database (safe to repeat: a second
        try after a lost COMMIT matches no row, the lease token being gone)."""
        for attempt in retrying(timeout=self.settings.database_retry_seconds):
            with attempt, self.store.transaction() as session:
                transitions.move(session, "hand_back", Job.id == job.id, Job.lease_token == token, to=state, values=values)
