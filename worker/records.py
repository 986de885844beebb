"""What recording an attempt writes: the attempts row, and the job's columns for its next state.

Kept apart from the runner so the runner reads as its cycle; these are plain functions of the
decision, the job as claimed and the outcome.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from worker.outcome import Outcome
from worker.states import JobState, OutcomeKind
from worker.store import Job
from worker.waiting.policy import Decision

#: What a job that an attempt sent back to waiting waits for, by the attempt's outcome.
WAITING_FOR = {OutcomeKind.PENDING: "poll", OutcomeKind.THROTTLED: "rate_limit"}


def job_values(decision: Decision, job: Job, now: datetime, outcome: Outcome, waiting_for: str | None = None) -> dict[str, Any]:
    """``waiting_for`` overrides what a waiting job waits for (a failed probe waits for its provider)."""
    values: dict[str, Any] = {
        "waiting_for": (waiting_for or WAITING_FOR.get(outcome.kind, "retry")) if decision.state is JobState.WAITING else None,
        "lease_token": None,
        "lease_expires_at": None,
        "next_attempt_at": decision.next_attempt_at,
        "reconcile": decision.reconcile,
        "slot_reserved": False,
        "updated_at": now,
        "error_code": decision.error_code,
        "error_message": decision.error_message,
    }
    values["budget_used"] = job.budget_used + (1 if decision.counted else 0)
    if decision.result is not None:
        values["result"] = decision.result
    if decision.state is JobState.SKIPPED:
        values["error_code"], values["error_message"] = None, None
    return values


def attempt_values(job_id: str, number: int, outcome: Outcome, started: datetime, finished: datetime) -> dict[str, Any]:
    """The attempts row of one attempt, as column values (an INSERT's parameters)."""
    return {
        "job_id": job_id,
        "number": number,
        "outcome": outcome.kind.value,
        "http_status": outcome.http_status,
        "retry_after": outcome.retry_after,
        "error_code": outcome.error_code if outcome.kind is not OutcomeKind.DONE else None,
        "error_message": outcome.error_message if outcome.kind is not OutcomeKind.DONE else None,
        "request": outcome.request,
        "note": outcome.note,
        "started_at": started,
        "finished_at": finished,
    }
