"""Taking a job in: validate, record, publish — in that order, so nothing is ever half-made.

A payload that breaks a rule is refused before anything is written. The job row is committed
before the Celery message is published; if publishing fails (Redis is down) the job stays
``queued``, marked unpublished, and beat publishes it as soon as Redis answers
(:mod:`worker.publishing`), so an accepted job is never lost.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError

from config.settings import Settings
from worker import dependencies, references, transitions
from worker import notify as notifications
from worker.adapters.base import Adapter
from worker.errors import DatabaseUnavailable, InvalidPayload, UnknownAccount, UnknownProvider, UnsupportedKind
from worker.jobview import JobInfo
from worker.publishing import Publisher, publish_all
from worker.states import JobState
from worker.store import Dependency, Job, Store
from worker.store.memo import StoreMemo
from worker.store.types import utcnow

log = logging.getLogger("printrelay.intake")
#: States in which a job holds the next one on its provider order back (see worker.dependencies).
_HOLDING = [*dependencies.UNFINISHED, JobState.NEEDS_REVIEW.value]

MAX_IDEMPOTENCY_KEY = 255


P = ParamSpec("P")
R = TypeVar("R")


def _refused_while_unreachable(method: Callable[Concatenate[Intake, P], R]) -> Callable[Concatenate[Intake, P], R]:
    """A job store that cannot be reached (a database restart) raises
    :class:`DatabaseUnavailable`: nothing was recorded, and the producer may simply try again
    (with the same idempotency key, safely). The URL is shown without its password."""

    @functools.wraps(method)
    def wrapper(self: Intake, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(self, *args, **kwargs)
        except OperationalError as exc:
            where = make_url(self.store.url).render_as_string(hide_password=True)
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
            raise DatabaseUnavailable(f"the job store at {where} cannot be reached ({reason}); nothing was recorded, try again") from None

    return wrapper


class Intake:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        adapters: Mapping[str, Adapter[Any]],
        publisher: Publisher,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store, self.settings, self.adapters, self.publisher, self.clock = store, settings, adapters, publisher, clock

    def check(self, kind: str, provider: str, payload: Any, account: str = "default", *, internal: bool = False) -> dict[str, Any]:
        """Every enqueue-time rule; the normalised payload, or an error naming what is wrong."""
        adapter = self._adapter(provider, internal=internal)
        if kind not in adapter.kinds:
            raise UnsupportedKind(f"{provider} does not support {kind!r} (it supports: {', '.join(sorted(adapter.kinds))})")
        settings = self.settings.provider(provider)
        if not settings.has_account(account):
            raise UnknownAccount(
                f"no settings for account {account!r} of {provider} (PRINTRELAY_{provider.upper()}__ACCOUNTS__{account.upper()}__…)"
            )
        dependencies.check(payload)
        memo = StoreMemo(self.store, provider, account)
        return adapter.validate(kind, payload, settings.for_account(account), memo)

    @_refused_while_unreachable
    def enqueue(
        self,
        kind: str,
        provider: str,
        payload: Any,
        *,
        account: str = "default",
        idempotency_key: str | None = None,
        notify: Any = None,
        internal: bool = False,
    ) -> JobInfo:
        """Record a job and publish it (see the module docstring for the order of things).

        ``notify`` (:mod:`worker.notify`) says whom to tell when the job ends. ``internal`` is
        for printrelay's own jobs (notifications): producers cannot enqueue those.
        """
        self._adapter(provider, internal=internal)
        if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
            raise InvalidPayload("idempotency_key", f"must be 1 to {MAX_IDEMPOTENCY_KEY} characters")
        if idempotency_key is not None and (existing := self._existing(kind, provider, account, idempotency_key)):
            return existing
        normalised = self.check(kind, provider, payload, account, internal=internal)
        announce = notifications.check(notify, self.settings)
        adapter = self.adapters[provider]
        sequence_key = adapter.sequence_key(kind, normalised)
        uses = dependencies.check(normalised)
        job_id = str(uuid.uuid4())
        follows = None
        if sequence_key and (superseded := adapter.supersedes.get(kind)):
            self._supersede(provider, account, sequence_key, superseded, by=f"{kind} job {job_id}")
        if sequence_key and (previous := self._predecessor(provider, account, sequence_key)):
            follows = None if previous in uses else previous
        links = [(other, False) for other in uses] + ([(follows, True)] if follows else [])
        state, error = self._initial_state(links)
        policy = adapter.policy(kind, self.settings)
        now = self.clock()
        job = Job(
            id=job_id,
            kind=kind,
            provider=provider,
            account=account,
            state=state.value,
            error_code=error[0] if error else None,
            error_message=error[1] if error else None,
            idempotency_key=idempotency_key,
            payload=normalised,
            attempt_count=0,
            budget_used=0,
            reconcile=False,
            deadline_at=now + timedelta(seconds=policy.deadline),
            sequence_key=sequence_key,
            notify=announce,
            notify_due=announce is not None,
            queued_at=now,
            created_at=now,
            updated_at=now,
        )
        try:
            with self.store.transaction() as session:
                session.add(job)
                session.flush()
                session.add_all(Dependency(job_id=job.id, depends_on=other, ordering=ordering) for other, ordering in links)
                references.add(session, job.id, references.of_payload(adapter, normalised), "payload")
        except IntegrityError:
            # Another producer won the race for this idempotency key: theirs is the job.
            if idempotency_key is not None and (existing := self._existing(kind, provider, account, idempotency_key)):
                return existing
            raise
        if state is not JobState.QUEUED:
            return JobInfo.of(job)
        publish_all(self.store, self.publisher, [(job.id, kind, provider)])
        return JobInfo.of(job)

    def _adapter(self, provider: str, *, internal: bool) -> Adapter[Any]:
        adapter = self.adapters.get(provider)
        if adapter is None or (adapter.internal and not internal):
            known = sorted(name for name, a in self.adapters.items() if not a.internal)
            raise UnknownProvider(f"unknown provider {provider!r} (known: {', '.join(known)})")
        return adapter

    def _predecessor(self, provider: str, account: str, sequence_key: str) -> str | None:
        """The newest unfinished job on the same provider order (one under review counts as
        unfinished): this one runs after it."""
        query = (
            select(Job.id)
            .where(Job.provider == provider, Job.account == account, Job.sequence_key == sequence_key, Job.state.in_(_HOLDING))
            .order_by(Job.created_at.desc())
            .limit(1)
        )
        with self.store.transaction() as session:
            return session.execute(query).scalar_one_or_none()

    def _supersede(self, provider: str, account: str, sequence_key: str, kinds: tuple[str, ...], *, by: str) -> None:
        """Skip the order's jobs of ``kinds`` that are waiting out a retry (a delete's pending
        updates): the new job must not wait behind their backoff, and pushing them after it is
        pointless. Only among the unbroken run of such kinds at the end of the order's queue;
        updates about to run (queued, blocked) go first, so a burst arrives as it was sent."""
        newest_first = (
            select(Job.id, Job.kind, Job.state)
            .where(Job.provider == provider, Job.account == account, Job.sequence_key == sequence_key, Job.state.in_(_HOLDING))
            .order_by(Job.created_at.desc())
        )
        with self.store.transaction() as session:
            tail = []
            for row in session.execute(newest_first):
                if row.kind not in kinds or row.state not in (JobState.QUEUED.value, JobState.WAITING.value, JobState.BLOCKED.value):
                    break
                if row.state == JobState.WAITING.value:
                    tail.append(row.id)
            skipped = (
                list(
                    # still waiting: one that a worker claimed meanwhile runs, and is followed
                    transitions.move(
                        session,
                        "supersede",
                        Job.id.in_(tail),
                        to=JobState.SKIPPED,
                        sources={JobState.WAITING},
                        values={
                            "result": {"skipped": f"unnecessary: {by} on the same order was enqueued after it"},
                            "next_attempt_at": None,
                            "error_code": None,
                            "error_message": None,
                            "updated_at": self.clock(),
                        },
                        returning=(Job.id,),
                    ).scalars()
                )
                if tail
                else []
            )
        for job_id in skipped:
            dependencies.release(self.store, self.publisher, job_id)

    def _initial_state(self, links: list[tuple[str, bool]]) -> tuple[JobState, tuple[str, str] | None]:
        """queued if nothing holds it, failed if a job whose result it uses already failed, else blocked."""
        if not links:
            return JobState.QUEUED, None
        ordering = dict(links)
        with self.store.transaction() as session:
            rows = session.execute(select(Job.id, Job.kind, Job.state, Job.error_code).where(Job.id.in_(list(ordering)))).all()
        if missing := [d for d in ordering if d not in {row.id for row in rows}]:
            raise InvalidPayload("payload", f"no job {missing[0]!r} to depend on")
        state, message = dependencies.verdict(dependencies.Link(*row, ordering=ordering[row.id]) for row in rows)
        return state, ((dependencies.DEPENDENCY_FAILED, message) if message else None)

    def _existing(self, kind: str, provider: str, account: str, key: str) -> JobInfo | None:
        with self.store.transaction() as session:
            job = session.execute(
                select(Job).where(Job.kind == kind, Job.provider == provider, Job.account == account, Job.idempotency_key == key)
            ).scalar_one_or_none()
            return JobInfo.of(job) if job is not None else None
