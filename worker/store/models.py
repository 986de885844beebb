"""SQLAlchemy models of the job store.

``jobs`` is the truth about every job: a Celery message only says "look at job X". Workers
change a job's state with conditional UPDATEs (see :mod:`worker.runner`), so the row itself is
the lock and a duplicate message finds nothing to do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from worker.store.types import UTCDateTime, utcnow


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("kind", "provider", "account", "idempotency_key", name="uq_jobs_idempotency"),
        # The scans of beat's maintenance tasks: due waiting jobs, expired leases, lost queued jobs.
        Index("ix_jobs_state_next_attempt", "state", "next_attempt_at"),
        Index("ix_jobs_state_lease", "state", "lease_expires_at"),
        Index("ix_jobs_state_queued", "state", "queued_at"),
        Index("ix_jobs_created", "created_at"),
        Index("ix_jobs_sequence", "provider", "account", "sequence_key"),
        Index("ix_jobs_notify_due", "notify_due", "state"),
        Index("ix_jobs_held", "provider", "account", "state", "waiting_for"),
        # retention's scan: finished jobs by when they last changed
        Index("ix_jobs_state_updated", "state", "updated_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(64), default="default")
    state: Mapped[str] = mapped_column(String(16))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]]
    result: Mapped[dict[str, Any] | None]
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    #: Attempts made so far; attempt numbers continue across operator retries.
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    #: Attempts that count towards ``max_attempts`` since the budget last started afresh.
    budget_used: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    deadline_at: Mapped[datetime | None]
    #: A previous attempt may have reached the provider (ambiguous or crashed): the next attempt
    #: asks the provider what happened before it does anything again.
    reconcile: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The job waits for a rate-limit slot it has already reserved (see worker.ratelimit).
    slot_reserved: Mapped[bool] = mapped_column(Boolean, default=False)
    #: An operator canceled the job while it ran: it stops after the current attempt.
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The claim's fencing token: only the worker holding it may record the attempt's end.
    lease_token: Mapped[str | None] = mapped_column(String(36))
    lease_expires_at: Mapped[datetime | None]
    #: The provider order the job acts on (a Printlane order id): jobs sharing one run in order.
    sequence_key: Mapped[str | None] = mapped_column(String(255))
    #: Who to tell how the job ended: ``{"task", "queue", "url"}`` (see worker.notify).
    notify: Mapped[dict[str, Any] | None]
    #: The job has ``notify`` and its current end (or its coming one) is not announced yet.
    notify_due: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    notified_at: Mapped[datetime | None]
    #: What a ``waiting`` job waits for: ``retry``, ``poll``, ``rate_limit`` or ``provider``
    #: (paused). Meaningful only while the job is waiting.
    waiting_for: Mapped[str | None] = mapped_column(String(16))
    #: When the job was last published to Celery (``requeue_lost`` looks at this); NULL while
    #: a queued job's publish has failed (:mod:`worker.publishing`).
    queued_at: Mapped[datetime | None]
    #: Other jobs depend on this one (set when such a job is recorded): its end releases them.
    #: Most jobs have none, and their end then needs no look at job_dependencies.
    has_dependents: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: When retention replaced the customer data in its payload (:mod:`worker.retention`): the
    #: job can no longer be replayed.
    scrubbed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    attempts: Mapped[list[Attempt]] = relationship(
        back_populates="job", order_by="Attempt.number", cascade="all, delete-orphan", lazy="raise"
    )


class Attempt(Base):
    """One call to a provider (or one crash while making it). Never holds a secret or a body."""

    __tablename__ = "attempts"
    __table_args__ = (UniqueConstraint("job_id", "number", name="uq_attempts_job_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))
    http_status: Mapped[int | None] = mapped_column(Integer)
    retry_after: Mapped[float | None]
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    request: Mapped[str | None] = mapped_column(String(255))
    note: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]

    job: Mapped[Job] = relationship(back_populates="attempts")


class Dependency(Base):
    """``job_id`` stays ``blocked`` until ``depends_on`` ends: it uses that job's result, or
    (``ordering``) it only has to run after it, being later on the same provider order."""

    __tablename__ = "job_dependencies"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    depends_on: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True, index=True)
    ordering: Mapped[bool] = mapped_column(default=False, server_default=false())


class JobEvent(Base):
    """An operator's action on a job (retry, replay, cancel): what, who or what triggered it, when."""

    __tablename__ = "job_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(255))
    detail: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class JobReference(Base):
    """A reference a person may quote about a job (an ``Order_…``, a shop's own order id), folded
    to lower case: what ``printrelay jobs find`` and the console's search match. Filled at enqueue
    from the payload and on success from the result (see :mod:`worker.references`)."""

    __tablename__ = "job_references"
    __table_args__ = (Index("ix_job_references_value", "value"),)

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    value: Mapped[str] = mapped_column(String(255), primary_key=True)
    #: where it was found: ``payload`` or ``result``
    source: Mapped[str] = mapped_column(String(8))


class Artifact(Base):
    """A file a job stored under the artifact directory (a PrintNow ZIP, an Ideal Factory print file)."""

    __tablename__ = "artifacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Memo(Base):
    """Small facts an adapter remembers per account, e.g. image content hash -> image reference.

    Adapters reach it only through the :class:`worker.adapters.base.Memo` protocol.
    """

    __tablename__ = "memos"

    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProviderPause(Base):
    """A provider account paused by an operator: its jobs wait (``waiting_for: provider``)
    without spending attempts until ``until`` (or a resume)."""

    __tablename__ = "provider_pauses"

    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    until: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ProviderEvent(Base):
    """What an operator did to a provider account (pause, resume): what, who, when."""

    __tablename__ = "provider_events"
    __table_args__ = (Index("ix_provider_events_provider", "provider", "account", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(255))
    detail: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)
