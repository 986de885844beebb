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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError

from config.settings import Settings
from worker import dependencies, references, transitions
from worker.adapters.base import Adapter, Memo
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
        settings = self._account_settings(kind, provider, account, adapter)
        dependencies.check(payload)
        return adapter.validate(kind, payload, settings, StoreMemo(self.store, provider, account))

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
        if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
            raise InvalidPayload("idempotency_key", f"must be 1 to {MAX_IDEMPOTENCY_KEY} characters")
        return self._enqueue(kind, provider, [payload], [idempotency_key], account=account, notify=notify, internal=internal)[0]

    @_refused_while_unreachable
    def enqueue_many(
        self,
        kind: str,
        provider: str,
        payloads: Iterable[Any],
        *,
        account: str = "default",
        idempotency_keys: Iterable[str | None] | None = None,
        notify: Any = None,
        internal: bool = False,
        progress: Callable[[str, int], None] | None = None,
    ) -> list[JobInfo]:
        """Record many jobs of one kind, provider and account, and publish them (CONTRACT.md,
        "Producing in bulk"). Every payload is checked first: a refused one raises
        :class:`InvalidPayload` naming its index (``payloads[3].order.…``) and nothing is stored.
        Then one transaction records them all, and their messages go out pipelined. A key seen
        before (or twice in the batch) returns the job it made. The jobs, in the order of ``payloads``.
        ``progress(phase, done)`` hears how far ``checked``, ``recorded`` and ``published`` are.
        """
        payloads = list(payloads)
        keys: list[str | None] = list(idempotency_keys) if idempotency_keys is not None else [None] * len(payloads)
        if len(keys) != len(payloads):
            raise InvalidPayload("idempotency_keys", f"must have one entry per payload ({len(payloads)}), or be left out")
        for index, key in enumerate(keys):
            if key is not None and (not isinstance(key, str) or not 0 < len(key) <= MAX_IDEMPOTENCY_KEY):
                raise InvalidPayload(f"idempotency_keys[{index}]", f"must be a string of 1 to {MAX_IDEMPOTENCY_KEY} characters, or null")
        return self._enqueue(
            kind, provider, payloads, keys, account=account, notify=notify, internal=internal, indexed=True, progress=progress
        )

    def _enqueue(
        self,
        kind: str,
        provider: str,
        payloads: list[Any],
        keys: list[str | None],
        *,
        account: str,
        notify: Any,
        internal: bool,
        indexed: bool = False,
        progress: Callable[[str, int], None] | None = None,
    ) -> list[JobInfo]:
        """check → link → one transaction → publish, for jobs of one kind, provider and account.
        A concurrent producer that records one of our keys first makes the transaction fail on
        the key's unique constraint: the batch is then planned again, finding theirs."""
        adapter = self._adapter(provider, internal=internal)
        for attempt in range(3):
            found = self._existing_many(kind, provider, account, {key for key in keys if key is not None})
            plan = self._plan(
                adapter, kind, provider, payloads, keys, found, account=account, notify=notify, indexed=indexed, progress=progress
            )
            try:
                self._record(plan)
            except IntegrityError:
                if attempt == 2 or not any(keys):
                    raise
                continue
            if progress is not None:
                progress("recorded", len(payloads))
            publish_all(self.store, self.publisher, [(job.id, kind, provider) for job in plan.new if job.state == JobState.QUEUED.value])
            if progress is not None:
                progress("published", len(payloads))
            return plan.answer()
        raise AssertionError("unreachable")  # pragma: no cover

    def _plan(
        self,
        adapter: Adapter[Any],
        kind: str,
        provider: str,
        payloads: list[Any],
        keys: list[str | None],
        found: dict[str, JobInfo],
        *,
        account: str,
        notify: Any,
        indexed: bool,
        progress: Callable[[str, int], None] | None = None,
    ) -> _Plan:
        """Every new job checked, linked (``$job`` references, the order it follows) and built."""
        settings = self._account_settings(kind, provider, account, adapter)
        memo = CachedMemo(StoreMemo(self.store, provider, account))  # a catalogue copy read once for the batch
        plan = _Plan(found=found)
        checked: list[tuple[int, dict[str, Any], str | None]] = []
        for index, (payload, key) in enumerate(zip(payloads, keys, strict=True)):
            if key is not None and (key in found or key in plan.by_key):
                plan.slots.append(key)
                continue
            try:
                dependencies.check(payload)
                normalised = adapter.validate(kind, payload, settings, memo)
            except InvalidPayload as refused:
                raise (refused.at(f"payloads[{index}]") if indexed else refused) from None
            checked.append((index, normalised, key))
            plan.by_key[key or f"#{index}"] = len(checked) - 1
            plan.slots.append(key or f"#{index}")
            if progress is not None and index % 500 == 499:
                progress("checked", index + 1)
        announce = _announce(notify, self.settings)
        policy = adapter.policy(kind, self.settings)
        now = self.clock()
        sequenced = {index: adapter.sequence_key(kind, normalised) for index, normalised, _ in checked}
        job_ids = [str(uuid.uuid4()) for _ in checked]
        for position, (index, _, _) in enumerate(checked):
            if (sequence_key := sequenced[index]) and (superseded := adapter.supersedes.get(kind)):
                self._supersede(provider, account, sequence_key, superseded, by=f"{kind} job {job_ids[position]}")
        predecessors = self._predecessors(provider, account, {k for k in sequenced.values() if k})
        uses_of = [dependencies.check(normalised) for _, normalised, _ in checked]
        states = self._link_states({*(i for uses in uses_of for i in uses), *predecessors.values()})
        last_in_batch: dict[str, str] = {}
        for position, ((index, normalised, key), job_id, uses) in enumerate(zip(checked, job_ids, uses_of, strict=True)):
            sequence_key = sequenced[index]
            follows = None
            if sequence_key:
                previous = last_in_batch.get(sequence_key) or predecessors.get(sequence_key)
                follows = None if previous in uses else previous
                last_in_batch[sequence_key] = job_id
            links = [(other, False) for other in uses] + ([(follows, True)] if follows else [])
            missing = [other for other in uses if other not in states]
            if missing:
                where = f"payloads[{index}]" if indexed else "payload"
                raise InvalidPayload(where, f"no job {missing[0]!r} to depend on")
            state, error = self._initial_state(links, states)
            created = now + timedelta(microseconds=position)  # the batch's order, for the jobs that follow it
            job = Job(
                id=job_id,
                kind=kind,
                provider=provider,
                account=account,
                state=state.value,
                error_code=error[0] if error else None,
                error_message=error[1] if error else None,
                idempotency_key=key,
                payload=normalised,
                result=None,
                attempt_count=0,
                budget_used=0,
                reconcile=False,
                slot_reserved=False,
                cancel_requested=False,
                has_dependents=False,
                deadline_at=created + timedelta(seconds=policy.deadline),
                sequence_key=sequence_key,
                notify=announce,
                notify_due=announce is not None,
                queued_at=created,
                created_at=created,
                updated_at=created,
            )
            plan.new.append(job)
            plan.links[job_id] = links
            plan.references[job_id] = references.of_payload(adapter, normalised)
            # a job in the batch that depends on one just planned is blocked behind it
            states[job_id] = dependencies.Link(job_id, kind, job.state, job.error_code, ordering=False)
        return plan

    def _record(self, plan: _Plan) -> None:
        """The batch in one transaction: its jobs, their dependency links and references."""
        if not plan.new:
            return
        depended_on = {other for found in plan.links.values() for other, _ in found}
        for job in plan.new:  # a later job of the batch on the same order waits for an earlier one
            job.has_dependents = job.id in depended_on
        with self.store.transaction() as session:
            session.execute(insert(Job), [_row(job) for job in plan.new])
            links = [
                {"job_id": job_id, "depends_on": other, "ordering": ordering}
                for job_id, found in plan.links.items()
                for other, ordering in found
            ]
            if links:
                session.execute(insert(Dependency), links)
            if earlier := sorted(depended_on - {job.id for job in plan.new}):
                session.execute(update(Job).where(Job.id.in_(earlier)).values(has_dependents=True))
            references.add_many(session, plan.references, "payload")

    def _adapter(self, provider: str, *, internal: bool) -> Adapter[Any]:
        adapter = self.adapters.get(provider)
        if adapter is None or (adapter.internal and not internal):
            known = sorted(name for name, a in self.adapters.items() if not a.internal)
            raise UnknownProvider(f"unknown provider {provider!r} (known: {', '.join(known)})")
        return adapter

    def _account_settings(self, kind: str, provider: str, account: str, adapter: Adapter[Any]) -> Any:
        if kind not in adapter.kinds:
            raise UnsupportedKind(f"{provider} does not support {kind!r} (it supports: {', '.join(sorted(adapter.kinds))})")
        settings = self.settings.provider(provider)
        if not settings.has_account(account):
            raise UnknownAccount(
                f"no settings for account {account!r} of {provider} (PRINTRELAY_{provider.upper()}__ACCOUNTS__{account.upper()}__…)"
            )
        return settings.for_account(account)

    def _predecessors(self, provider: str, account: str, sequence_keys: set[str]) -> dict[str, str]:
        """For each provider order, the newest unfinished job on it (one under review counts as
        unfinished): a new job on that order runs after it. One query for the batch."""
        if not sequence_keys:
            return {}
        query = (
            select(Job.sequence_key, Job.id)
            .where(Job.provider == provider, Job.account == account, Job.sequence_key.in_(sorted(sequence_keys)), Job.state.in_(_HOLDING))
            .order_by(Job.created_at)
        )
        with self.store.transaction() as session:
            return {str(key): str(job_id) for key, job_id in session.execute(query)}  # the newest wins

    def _link_states(self, job_ids: set[str]) -> dict[str, dependencies.Link]:
        if not job_ids:
            return {}
        with self.store.transaction() as session:
            rows = session.execute(select(Job.id, Job.kind, Job.state, Job.error_code).where(Job.id.in_(sorted(job_ids)))).all()
        return {row.id: dependencies.Link(row.id, row.kind, row.state, row.error_code, ordering=False) for row in rows}

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

    @staticmethod
    def _initial_state(links: list[tuple[str, bool]], states: dict[str, dependencies.Link]) -> tuple[JobState, tuple[str, str] | None]:
        """queued if nothing holds it, failed if a job whose result it uses already failed, else blocked."""
        if not links:
            return JobState.QUEUED, None
        # an order's previous job that vanished meanwhile (purged) orders nothing any more
        known = [(other, ordering) for other, ordering in links if other in states]
        state, message = dependencies.verdict(replace(states[other], ordering=ordering) for other, ordering in known)
        return state, ((dependencies.DEPENDENCY_FAILED, message) if message else None)

    def _existing(self, kind: str, provider: str, account: str, key: str) -> JobInfo | None:
        return self._existing_many(kind, provider, account, {key}).get(key)

    def _existing_many(self, kind: str, provider: str, account: str, keys: set[str]) -> dict[str, JobInfo]:
        """The jobs already made for ``keys`` (per kind, provider and account), by key."""
        if not keys:
            return {}
        found: dict[str, JobInfo] = {}
        ordered = sorted(keys)
        with self.store.transaction() as session:
            for start in range(0, len(ordered), 1000):
                query = select(Job).where(
                    Job.kind == kind,
                    Job.provider == provider,
                    Job.account == account,
                    Job.idempotency_key.in_(ordered[start : start + 1000]),
                )
                found.update({str(job.idempotency_key): JobInfo.of(job) for job in session.execute(query).scalars()})
        return found


@dataclass
class _Plan:
    """An enqueue's jobs, as planned: those to make, and where each payload's answer comes from."""

    found: dict[str, JobInfo]
    new: list[Job] = field(default_factory=list)
    #: per payload: its idempotency key, or ``#index`` for one without
    slots: list[str] = field(default_factory=list)
    #: key (or ``#index``) -> position in ``new``
    by_key: dict[str, int] = field(default_factory=dict)
    links: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)
    references: dict[str, set[str]] = field(default_factory=dict)

    def answer(self) -> list[JobInfo]:
        made = [JobInfo.of(job) for job in self.new]
        return [self.found[slot] if slot in self.found else made[self.by_key[slot]] for slot in self.slots]


class CachedMemo:
    """A memo read at most once per key: enqueue-time rules consult it for every payload."""

    def __init__(self, memo: Memo) -> None:
        self.memo = memo
        self._read: dict[str, dict[str, Any] | None] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        if key not in self._read:
            self._read[key] = self.memo.get(key)
        return self._read[key]

    def put(self, key: str, value: dict[str, Any]) -> None:
        self._read[key] = value
        self.memo.put(key, value)


def _announce(notify: Any, settings: Settings) -> dict[str, Any] | None:
    """The job's ``notify``, checked (:mod:`worker.notify`, imported only for a job that has one:
    ``printrelay enqueue`` starts faster without its models)."""
    if notify is None:
        return None
    from worker import notify as notifications

    return notifications.check(notify, settings)


def _row(job: Job) -> dict[str, Any]:
    """A job's column values, for an INSERT of many."""
    return {column.key: getattr(job, column.key) for column in Job.__table__.columns}
