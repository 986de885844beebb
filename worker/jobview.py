"""A job as users see it: the JSON of CONTRACT.md (``jobs show --json``, ``enqueue --json``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.store import Attempt, Job, JobEvent


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


@dataclass(frozen=True)
class AttemptInfo:
    number: int
    outcome: str
    http_status: int | None
    retry_after: float | None
    error_code: str | None
    error_message: str | None
    request: str | None
    note: str | None
    started_at: datetime
    finished_at: datetime

    @classmethod
    def of(cls, attempt: Attempt) -> AttemptInfo:
        return cls(
            number=attempt.number,
            outcome=attempt.outcome,
            http_status=attempt.http_status,
            retry_after=attempt.retry_after,
            error_code=attempt.error_code,
            error_message=attempt.error_message,
            request=attempt.request,
            note=attempt.note,
            started_at=attempt.started_at,
            finished_at=attempt.finished_at,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "outcome": self.outcome,
            "http_status": self.http_status,
            "retry_after": self.retry_after,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "request": self.request,
            "note": self.note,
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
        }


@dataclass(frozen=True)
class JobInfo:
    """A snapshot of one job, detached from the database."""

    id: str
    kind: str
    provider: str
    account: str
    state: str
    idempotency_key: str | None
    result: dict[str, Any] | None
    error: dict[str, str | None] | None
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime
    attempt_count: int
    attempts: list[AttemptInfo] | None = field(default=None)
    #: what a waiting job waits for: retry, poll, rate_limit or provider
    waiting_for: str | None = None
    #: operators' actions on the job (retry, replay, cancel), oldest first
    events: list[dict[str, Any]] | None = field(default=None)

    @classmethod
    def of(cls, job: Job, attempts: list[Attempt] | None = None, events: list[JobEvent] | None = None) -> JobInfo:
        error = {"code": job.error_code, "message": job.error_message} if job.error_code else None
        return cls(
            id=job.id,
            kind=job.kind,
            provider=job.provider,
            account=job.account,
            state=job.state,
            idempotency_key=job.idempotency_key,
            result=job.result,
            error=error,
            next_attempt_at=job.next_attempt_at,
            created_at=job.created_at,
            updated_at=job.updated_at,
            attempt_count=job.attempt_count,
            waiting_for=job.waiting_for if job.state == "waiting" else None,
            attempts=[AttemptInfo.of(a) for a in attempts] if attempts is not None else None,
            events=[{"action": e.action, "actor": e.actor, "detail": e.detail, "at": iso(e.at)} for e in events]
            if events is not None
            else None,
        )

    @classmethod
    def load(cls, session: Session, job_id: str, *, history: bool = True) -> JobInfo | None:
        """The job with its attempts and operator events (``history``), or ``None``."""
        job = session.get(Job, job_id)
        if job is None:
            return None
        if not history:
            return cls.of(job)
        attempts = session.execute(select(Attempt).where(Attempt.job_id == job_id).order_by(Attempt.number)).scalars()
        events = session.execute(select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id)).scalars()
        return cls.of(job, list(attempts), list(events))

    @property
    def finished(self) -> bool:
        from worker.states import JobState

        return JobState(self.state).finished

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "provider": self.provider,
            "account": self.account,
            "state": self.state,
            "idempotency_key": self.idempotency_key,
            "result": self.result,
            "error": self.error,
            "next_attempt_at": iso(self.next_attempt_at),
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }
        if self.state == "waiting":
            data["waiting_for"] = self.waiting_for or "retry"
        if self.attempts is not None:
            data["attempts"] = [a.to_dict() for a in self.attempts]
        if self.events is not None:
            data["events"] = self.events
        return data
