"""The waiting policy: from one attempt's :class:`~worker.outcome.Outcome` to the job's next state.

A pure function of the outcome, the job's counters and the clock, so it is tested without a
database or a worker. The rules (DESIGN.md, "Waiting, counted"):

- ``transient``/``crashed``: exponential backoff with full jitter, ``base·factor^(n-1)`` capped
  at ``cap``; counts towards ``max_attempts``. A Retry-After on the response is a floor.
- ``throttled``: at least the provider's Retry-After (or rate-limit reset); bounded only by the
  deadline.
- ``pending``: poll again after Retry-After, else ``poll_interval``; bounded only by the deadline.
- A wait that would end past the deadline fails the job now with ``deadline_exceeded``, rather
  than sleeping into a deadline it cannot meet.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from config.settings import RetryPolicy, Settings

from worker.outcome import Outcome
from worker.states import JobState, OutcomeKind

DAY = 86400.0


@dataclass(frozen=True)
class Policy:
    base: float = 2.0
    factor: float = 2.0
    cap: float = 300.0
    max_attempts: int = 8
    deadline: float = DAY
    poll_interval: float = 30.0

    def backoff(self, failures: int, rand: Callable[[float, float], float] = random.uniform) -> float:
        """Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): uniform in
        ``[0, min(cap, base·factor^(failures-1))]``; spreads a burst of failures apart."""
        ceiling = min(self.cap, self.base * self.factor ** max(0, failures - 1))
        return rand(0.0, ceiling)

    def merged(self, override: RetryPolicy | None) -> Policy:
        if override is None:
            return self
        fields = {k: v for k, v in override.model_dump().items() if v is not None}
        return Policy(**{**self.__dict__, **fields})


BUILTIN_POLICIES: dict[str, Policy] = {
    "upload_image": Policy(base=2, cap=300, max_attempts=8, deadline=DAY),
    "submit_order": Policy(base=5, cap=600, max_attempts=8, deadline=2 * DAY),
    "update_order": Policy(base=5, cap=600, max_attempts=8, deadline=2 * DAY),
    "cancel_order": Policy(base=5, cap=600, max_attempts=8, deadline=DAY),
    # Print files can take hours: the deadline is long, the attempt budget is for real failures.
    "poll_print_file": Policy(base=5, cap=300, max_attempts=10, deadline=2 * DAY, poll_interval=30),
    "track_order": Policy(base=2, cap=120, max_attempts=6, deadline=3600),
    "update_status": Policy(base=5, cap=600, max_attempts=8, deadline=2 * DAY),
    # A producer's receiver may be down for a deploy: keep trying for a day, at most every 10 min.
    "notify": Policy(base=2, cap=600, max_attempts=30, deadline=DAY),
}


def policy_for(kind: str, settings: Settings, provider_defaults: Mapping[str, float] | None = None) -> Policy:
    """The kind's built-in policy, then the provider's defaults for it, then the settings."""
    policy = BUILTIN_POLICIES.get(kind, Policy())
    if provider_defaults:
        policy = Policy(**{**policy.__dict__, **provider_defaults})
    return policy.merged(settings.retry.get(kind))


@dataclass(frozen=True)
class Decision:
    """The job's next state after one attempt, and what to write with it."""

    state: JobState
    next_attempt_at: datetime | None = None
    result: dict[str, Any] | None = None
    error_code: str | None = None
    error_message: str | None = None
    #: the attempt counted towards ``max_attempts``
    counted: bool = False
    #: the next attempt must first ask the provider what the last one did
    reconcile: bool = False


def decide(
    outcome: Outcome,
    *,
    policy: Policy,
    budget_used: int,
    deadline_at: datetime | None,
    now: datetime,
    idempotent: bool,
    can_reconcile: bool,
    rand: Callable[[float, float], float] = random.uniform,
) -> Decision:
    """The next state for a job whose attempt ended in ``outcome``.

    ``budget_used`` is the number of counted attempts *before* this one. ``idempotent`` says a
    crashed attempt may simply be repeated; ``can_reconcile`` that the adapter can ask the
    provider whether an ambiguous call took effect.
    """
    kind = outcome.kind
    if kind is OutcomeKind.DONE:
        state = JobState.SKIPPED if outcome.skipped else JobState.SUCCEEDED
        return Decision(state, result=outcome.result or {})
    if kind is OutcomeKind.PERMANENT:
        return Decision(JobState.FAILED, error_code=outcome.error_code or "permanent", error_message=outcome.error_message)

    counted = kind in (OutcomeKind.TRANSIENT, OutcomeKind.CRASHED, OutcomeKind.AMBIGUOUS)
    reconcile = False
    if kind is OutcomeKind.AMBIGUOUS or (kind is OutcomeKind.CRASHED and not idempotent):
        # The call may have happened. Repeating it could place a second order: ask first.
        if not can_reconcile:
            return Decision(
                JobState.NEEDS_REVIEW,
                error_code=outcome.error_code or kind.value,
                error_message=(outcome.error_message or "the call may have reached the provider")
                + "; the provider offers no way to check, so it is not repeated blindly",
                counted=True,
            )
        reconcile = True

    if counted and budget_used + 1 >= policy.max_attempts:
        return Decision(
            JobState.FAILED,
            error_code="retries_exhausted",
            error_message=f"{policy.max_attempts} attempts failed; last: {_describe(outcome)}",
            counted=True,
        )

    if kind is OutcomeKind.PENDING:
        wait = outcome.retry_after if outcome.retry_after is not None else policy.poll_interval
    elif kind is OutcomeKind.THROTTLED:
        wait = outcome.retry_after if outcome.retry_after is not None else policy.backoff(budget_used + 1, rand)
    else:
        wait = max(policy.backoff(budget_used + 1, rand), outcome.retry_after or 0.0)

    when = now + timedelta(seconds=wait)
    if deadline_at is not None and when > deadline_at:
        return Decision(
            JobState.FAILED,
            error_code="deadline_exceeded",
            error_message=f"the next attempt ({wait:.0f} s from now) would start past the job's deadline; last: {_describe(outcome)}",
            counted=counted,
        )
    return Decision(
        JobState.WAITING,
        next_attempt_at=when,
        error_code=outcome.error_code,
        error_message=outcome.error_message,
        counted=counted,
        reconcile=reconcile,
    )


def _describe(outcome: Outcome) -> str:
    parts = [outcome.kind.value]
    if outcome.http_status:
        parts.append(f"HTTP {outcome.http_status}")
    if outcome.error_code:
        parts.append(outcome.error_code)
    if outcome.error_message:
        parts.append(outcome.error_message)
    return ", ".join(parts)
