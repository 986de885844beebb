"""What the console shows, as plain data: the pages render it, the JSON API returns it.

A job's *story* is more than ``jobs show``: its payload with customer data and secrets masked
(:mod:`worker.privacy`), its attempts as a timeline with the time waited before each, who did
what, the jobs it depends on and those that depend on it, and the other jobs on the same provider
order (those sharing a reference with it: the submit that made ``Order_…`` and the cancel and
tracking jobs that name it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from worker import fleet, privacy
from worker.errors import JobNotFound, PrintrelayError
from worker.jobview import JobInfo, iso
from worker.runtime import Runtime
from worker.store import Artifact, Dependency, Job, JobReference

#: Jobs listed as "on the same provider order" (an order rarely has more).
RELATED_SHOWN = 50


@dataclass(frozen=True)
class Step:
    """One attempt on the timeline."""

    number: int
    outcome: str
    http_status: int | None
    retry_after: float | None
    error: str | None
    note: str | None
    request: str | None
    started_at: str | None
    took: float
    #: seconds between the previous attempt's end and this one's start
    waited: float | None


@dataclass(frozen=True)
class Story:
    job: JobInfo
    payload: Any
    scrubbed_at: str | None
    timeline: list[Step]
    depends_on: list[dict[str, Any]] = field(default_factory=list)
    dependents: list[dict[str, Any]] = field(default_factory=list)
    related: list[JobInfo] = field(default_factory=list)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    #: the job created something at the provider (a replay of it places another): the replay
    #: form asks for a confirmation
    creates: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": self.job.to_dict(),
            "payload": self.payload,
            "scrubbed_at": self.scrubbed_at,
            "timeline": [step.__dict__ for step in self.timeline],
            "depends_on": self.depends_on,
            "dependents": self.dependents,
            "related": [job.to_dict() for job in self.related],
            "artifacts": self.artifacts,
        }


def story(runtime: Runtime, job_id: str) -> Story:
    with runtime.store.transaction() as session:
        info = JobInfo.load(session, job_id)
        job = session.get(Job, job_id)
        if info is None or job is None:
            raise JobNotFound(f"no job {job_id!r}")
        depends_on = _links(session, Dependency.job_id == job_id, Dependency.depends_on == Job.id)
        dependents = _links(session, Dependency.depends_on == job_id, Dependency.job_id == Job.id)
        mine = select(JobReference.value).where(JobReference.job_id == job_id)
        sharing = select(JobReference.job_id).where(JobReference.value.in_(mine))
        related = [
            JobInfo.of(other)
            for other in session.execute(
                select(Job).where(Job.id.in_(sharing), Job.id != job_id).order_by(Job.created_at).limit(RELATED_SHOWN)
            ).scalars()
        ]
        artifacts = [
            {"path": a.path, "sha256": a.sha256, "size": a.size, "created_at": iso(a.created_at)}
            for a in session.execute(select(Artifact).where(Artifact.job_id == job_id)).scalars()
        ]
    adapter = runtime.runner.adapters.get(job.provider)
    redactor = runtime.redactor(job.provider) if adapter is not None else None
    return Story(
        job=info,
        payload=privacy.masked(adapter, job.payload, redactor),
        scrubbed_at=iso(job.scrubbed_at) if job.scrubbed_at and privacy.is_scrubbed(job.payload) else None,
        timeline=timeline(info),
        depends_on=depends_on,
        dependents=dependents,
        related=related,
        artifacts=artifacts,
        creates=adapter is not None and job.kind in adapter.creates,
    )


def _links(session: Session, this: ColumnElement[bool], other: ColumnElement[bool]) -> list[dict[str, Any]]:
    """The jobs at the other end of this job's dependency links."""
    query = select(Job.id, Job.kind, Job.state, Dependency.ordering).join(Dependency, other).where(this)
    return [{"id": row.id, "kind": row.kind, "state": row.state, "ordering": row.ordering} for row in session.execute(query)]


def timeline(job: JobInfo) -> list[Step]:
    steps = []
    previous_end = None
    for attempt in job.attempts or []:
        error = ": ".join(filter(None, [attempt.error_code, attempt.error_message])) or None
        steps.append(
            Step(
                number=attempt.number,
                outcome=attempt.outcome,
                http_status=attempt.http_status,
                retry_after=attempt.retry_after,
                error=error,
                note=attempt.note,
                request=attempt.request,
                started_at=iso(attempt.started_at),
                took=round((attempt.finished_at - attempt.started_at).total_seconds(), 3),
                waited=round((attempt.started_at - previous_end).total_seconds(), 3) if previous_end is not None else None,
            )
        )
        previous_end = attempt.finished_at
    return steps


def providers(runtime: Runtime) -> list[dict[str, Any]]:
    """The ``printrelay providers --json`` array."""
    return [status.to_dict() for status in fleet.statuses(runtime)]


def provider(runtime: Runtime, name: str, account: str) -> dict[str, Any]:
    """One provider account's status (what a pause or resume answers)."""
    for status in fleet.statuses(runtime):
        if status.provider == name and status.account == account:
            return status.to_dict()
    raise PrintrelayError(f"no provider account {name}/{account}", code="unknown_provider")
