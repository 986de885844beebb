"""The runner: claim → call → record → next, for one job id. It knows jobs, not providers.

Every state change is one conditional UPDATE, so the database row is the lock:

- **claim** moves the job from ``queued``/``waiting`` (when due) to ``running`` and hands out a
  fresh lease token. A duplicate or stale Celery message claims nothing and is simply acked.
- **record** writes one attempts row and the job's next state in one transaction, and only
  if the lease token still matches: a worker whose lease was taken over (it was presumed
  crashed) cannot overwrite what the recovery decided.

A database that cannot be reached for a while (:mod:`worker.store.reachability`) is waited for:
claims retry, and an attempt whose call was made keeps its outcome — journalled in Redis
(:mod:`worker.journal`) after a first failed write, so that a worker dying meanwhile does not turn
a known answer into a ``crashed`` one — until the database takes it.

The seams the rest of printrelay plugs into are constructor arguments: the adapters, a
:class:`Publisher` (Celery, in production) and the clock; what follows a committed attempt
(releasing dependents, announcing the end, publishing a short wait) is :attr:`Runner.after_commit`.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import Connection, insert, select, update

from config.provider_settings import ProviderSettings
from config.settings import Settings
from worker import dependencies, references, statements, transitions
from worker.adapters.base import Adapter, Call
from worker.circuit import Circuit
from worker.errors import DatabaseUnavailable, NotConfigured
from worker.gate import Gate
from worker.heartbeat import Heartbeat
from worker.holds import HELD, Holds
from worker.journal import Entry, Journal
from worker.metrics import Counters
from worker.outcome import Outcome
from worker.publishing import Publisher
from worker.ratelimit import Limiter
from worker.records import attempt_values, job_values
from worker.redact import Redactor
from worker.states import CLAIMABLE, JobState, OutcomeKind
from worker.store import Artifact, Attempt, Job, Store
from worker.store.memo import StoreMemo
from worker.store.reachability import retrying, unreachable
from worker.store.types import utcnow
from worker.waiting.policy import Decision, Policy, decide, policy_for

if TYPE_CHECKING:
    from worker.notify import Notifier

log = logging.getLogger("printrelay.runner")


class ClaimResult(Enum):
    CLAIMED = "claimed"
    NOT_FOUND = "not_found"
    NOT_DUE = "not_due"
    NOT_CLAIMABLE = "not_claimable"


@dataclass(frozen=True)
class Claim:
    result: ClaimResult
    job: Job | None = None
    token: str | None = None
    #: for NOT_DUE: seconds until the job is due
    due_in: float | None = None


@dataclass(frozen=True)
class JobContext:
    """What a job of one (provider, account, kind) needs, resolved once per runner: the
    provider's adapter, the account's settings, the kind's policy, the provider's redactor and
    its rate-limit buckets for the kind. Settings do not change under a runner, so neither does this."""

    adapter: Adapter[Any]
    settings: ProviderSettings
    policy: Policy
    redactor: Redactor
    buckets: dict[str, tuple[int, float]]


@dataclass(frozen=True)
class Recorded:
    """What recording an attempt found out, for what follows it."""

    #: the job's state now (a wait an operator's cancel turned into ``canceled``)
    state: JobState
    #: jobs wait for this one (``jobs.has_dependents``)
    has_dependents: bool
    #: its producer is to hear of its end (``jobs.notify_due``)
    notify_due: bool


#: A step that follows a committed attempt: (the job as claimed, the decision, when, what the record found).
AfterCommit = Callable[[Job, Decision, datetime, Recorded], None]


class Runner:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        adapters: Mapping[str, Adapter[Any]],
        clients: Callable[[str, str], httpx.Client],
        publisher: Publisher,
        *,
        limiter: Limiter | None = None,
        counters: Counters | None = None,
        notifier: Notifier | None = None,
        redactor: Callable[[str], Redactor] | None = None,
        holds: Holds | None = None,
        heartbeat: Heartbeat | None = None,
        circuit: Circuit | None = None,
        journal: Journal | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.settings = settings
        self.adapters = adapters
        self.clients = clients
        self.publisher = publisher
        self.limiter = limiter
        self.counters = counters
        self.notifier = notifier
        self.redactor = redactor or (lambda provider: Redactor.for_settings(self.settings.provider(provider)))
        self.clock = clock
        self.holds = holds
        self.heartbeat = heartbeat
        self.circuit = circuit
        self.journal = journal
        self.gate = Gate(store, settings, publisher, clock=clock, limiter=limiter, holds=holds, circuit=circuit, counters=counters)
        self._contexts: dict[tuple[str, str, str], JobContext] = {}
        self._claimed = transitions.target("claim", JobState.RUNNING)
        #: PostgreSQL records an attempt in one statement (data-modifying WITH); SQLite cannot
        self._one_statement = store.engine.dialect.name == "postgresql"
        #: What follows a committed attempt, in order. Each may fail without harm: beat's
        #: release_stuck, notify_pending and dispatch_due catch up with what one missed.
        self.after_commit: list[AfterCommit] = [self._hook_ended, self._hook_short_wait]

    def context(self, job: Job) -> JobContext | None:
        """The job's :class:`JobContext`; ``None`` if no adapter runs its kind. Raises KeyError
        for an account the provider has no settings for."""
        key = (job.provider, job.account, job.kind)
        if (found := self._contexts.get(key)) is not None:
            return found
        adapter = self.adapters.get(job.provider)
        if adapter is None or job.kind not in adapter.kinds:
            return None
        configured = self.settings.rate_limits(job.provider)
        context = JobContext(
            adapter=adapter,
            settings=self.settings.provider(job.provider).for_account(job.account),
            policy=adapter.policy(job.kind, self.settings),
            redactor=self.redactor(job.provider),
            buckets={name: configured[name] for name in adapter.buckets(job.kind) if name in configured},
        )
        self._contexts[key] = context
        return context

    # -- the whole cycle --------------------------------------------------------------------

    def run(self, job_id: str) -> JobState | None:
        """Run one attempt of ``job_id`` if it can be claimed; the job's new state, else ``None``."""
        claim = self.claim(job_id)
        if claim.result is ClaimResult.NOT_DUE and claim.due_in is not None and claim.due_in <= self.settings.countdown_max:
            # An early delivery (a countdown computed on another clock): come back when due.
            assert claim.job is not None
            self.publisher.publish(job_id, claim.job.kind, claim.job.provider, countdown=claim.due_in)
            return None
        if claim.result is not ClaimResult.CLAIMED:
            log.debug("job %s not claimed: %s", job_id, claim.result.value)
            return None
        assert claim.job is not None and claim.token is not None
        if self.heartbeat is not None:
            self.heartbeat.hold(job_id, claim.token)
        try:
            return self._attempt(claim.job, claim.token)
        finally:
            if self.heartbeat is not None:
                self.heartbeat.release(claim.token)

    def _attempt(self, job: Job, token: str) -> JobState | None:
        """acquire → call → record, for a job this worker has claimed."""
        if self.counters is not None:
            due = max(t for t in (job.queued_at, job.next_attempt_at, job.created_at) if t is not None)
            self.counters.queue_wait(job.provider, (self.clock() - due).total_seconds())
        try:
            context = self.context(job)
        except KeyError:
            context = None  # the call fails as unknown_account; no slot is taken for it
        started = self.clock()
        try:
            held: JobState | None = self.gate.check(job, token, context.buckets if context else {})
            if held is not None:
                return held
            payload = self._resolved(job)
        except Exception as exc:
            if not unreachable(exc):
                raise
            # The database stayed away for longer than the gate's retries: no call is made, and
            # the attempt says so (it is recorded, or journalled, like any other).
            not_called = Outcome.transient("database_unavailable", "the job store could not be reached before the call; no call was made")
            return self.record(job, token, not_called, started=started)
        started = self.clock()
        outcome = self.call(job, payload)
        probe_wait = self.gate.learn(job, outcome)
        return self.record(job, token, outcome, started=started, probe_wait=probe_wait)

    # -- claim --------------------------------------------------------------------------------

    def claim(self, job_id: str) -> Claim:
        """Take the job if it is claimable and due: one prepared statement (:mod:`worker.statements`).
        Waits for an unreachable database (up to ``database_retry_seconds``); a try whose COMMIT
        happened but whose answer was lost is recognised by its lease token on the next, so the
        claim is neither lost nor doubled."""
        token = str(uuid.uuid4())
        try:
            return self._claim(job_id, token)
        except Exception as exc:
            if not unreachable(exc):
                raise
        log.warning("job %s: the job store is unreachable; claiming it when it is back", job_id)
        for attempt in retrying(timeout=self.settings.database_retry_seconds):
            with attempt:
                return self._claim(job_id, token)
        raise AssertionError("retrying() returns or raises")  # pragma: no cover

    def _claim(self, job_id: str, token: str) -> Claim:
        now = self.clock()
        params = {
            "to": self._claimed,
            "job_id": job_id,
            "token": token,
            "lease_until": now + timedelta(seconds=self.settings.lease_seconds),
            "now": now,
        }
        claimed = self.store.statement(statements.CLAIM, params)
        if claimed:
            return Claim(ClaimResult.CLAIMED, job=statements.job_of(claimed[0]), token=token)
        found = self.store.statement(statements.CURRENT, {"job_id": job_id})
        if not found:
            return Claim(ClaimResult.NOT_FOUND)
        current = statements.job_of(found[0])
        if current.lease_token == token:  # an earlier try's commit landed; its answer did not
            return Claim(ClaimResult.CLAIMED, job=current, token=token)
        if current.state in CLAIMABLE and current.next_attempt_at is not None:
            return Claim(ClaimResult.NOT_DUE, job=current, due_in=(current.next_attempt_at - now).total_seconds())
        return Claim(ClaimResult.NOT_CLAIMABLE, job=current)

    # -- call ---------------------------------------------------------------------------------

    def call(self, job: Job, payload: dict[str, Any] | Outcome | None = None) -> Outcome:
        """One attempt through the job's adapter. Never raises: a bug becomes an Outcome too.
        ``payload``: the job's payload with its references resolved (:meth:`_resolved`), if the
        caller resolved it already."""
        try:
            context = self.context(job)
        except KeyError as exc:
            return Outcome.permanent("unknown_account", f"no settings for account {exc.args[0]!r} of {job.provider}")
        if context is None:
            return Outcome.permanent("unsupported_kind", f"{job.provider} does not support {job.kind}")
        try:
            if payload is None:
                payload = self._resolved(job)
            if isinstance(payload, Outcome):
                return payload
            call = Call(
                kind=job.kind,
                payload=payload,
                account=job.account,
                settings=context.settings,
                client=self.clients(job.provider, job.account),
                memo=StoreMemo(self.store, job.provider, job.account),
                job_id=job.id,
                idempotency_key=job.idempotency_key,
                reconcile=job.reconcile,
                artifact_dir=self.settings.artifact_dir,
            )
            outcome = context.adapter.perform(call)
        except NotConfigured as exc:
            return Outcome.permanent("not_configured", str(exc))
        except KeyError as exc:
            return Outcome.permanent("unknown_account", f"no settings for account {exc.args[0]!r} of {job.provider}")
        except Exception as exc:  # an adapter bug must not lose the job or leak a secret
            log.exception("adapter %s crashed on job %s", job.provider, job.id)
            message = context.redactor.redact(f"{type(exc).__name__}: {exc}")[:500]
            if job.kind in context.adapter.idempotent:
                return Outcome.transient("internal_error", message)
            return Outcome.ambiguous("internal_error", message)
        return context.redactor.redact_outcome(outcome)

    def _resolved(self, job: Job) -> dict[str, Any] | Outcome:
        """The payload with ``{"$job": …}`` references replaced by those jobs' results."""
        wanted = dependencies.check(job.payload)
        if not wanted:
            return job.payload
        for attempt in retrying(timeout=self.settings.database_retry_seconds):
            with attempt, self.store.transaction() as session:
                results: dict[str, dict[str, Any] | None] = dict(
                    session.execute(select(Job.id, Job.result).where(Job.id.in_(wanted))).all()
                )
        try:
            resolved: dict[str, Any] = dependencies.resolve(job.payload, results)
        except KeyError as exc:
            return Outcome.permanent("dependency_result_missing", str(exc.args[0]))
        return resolved

    # -- record ---------------------------------------------------------------------------------

    def record(
        self,
        job: Job,
        token: str,
        outcome: Outcome,
        *,
        started: datetime,
        called: bool = True,
        probe_wait: float | None = None,
        finished: datetime | None = None,
    ) -> JobState | None:
        """Write the attempt and the job's next state in one transaction (if we still hold the lease).

        ``called=False`` is for the recovery, which made no call: if someone else moved the job on
        first (another recovery tick, a late worker), it records nothing at all. ``probe_wait``:
        the call was its circuit's probe and failed transiently; the job waits for the next probe
        (``waiting_for: provider``) without the attempt counting against its budget. ``finished``:
        when the call ended, if not now (an outcome recovered from the journal).
        """
        finished = finished or self.clock()
        adapter = self.adapters.get(job.provider)
        try:
            context = self.context(job)
        except KeyError:
            context = None
        decision = decide(
            outcome,
            policy=context.policy if context else policy_for(job.kind, self.settings),
            budget_used=job.budget_used,
            deadline_at=job.deadline_at,
            now=self.clock(),
            idempotent=adapter is not None and job.kind in adapter.idempotent,
            can_reconcile=adapter is not None and job.kind in adapter.reconcilable,
        )
        waiting_for = None
        if probe_wait is not None and outcome.kind is OutcomeKind.TRANSIENT:
            until = finished + timedelta(seconds=probe_wait)
            if job.deadline_at is None or until <= job.deadline_at:
                decision = Decision(JobState.WAITING, next_attempt_at=until, reconcile=decision.reconcile)
                waiting_for = HELD
        write = functools.partial(self._write, job, token, outcome, decision, waiting_for, started, finished, called=called)
        after = self._durably(write, job, token, Entry(outcome, started, finished, probe_wait), called=called)
        if after is None:
            if called:
                log.warning("job %s: lease lost before attempt %s finished; recovery decides", job.id, job.attempt_count)
            return None
        log.info(
            "job %s %s/%s attempt %s: %s -> %s",
            job.id,
            job.provider,
            job.kind,
            job.attempt_count,
            outcome.kind.value,
            after.state.value,
        )
        self._after(job, replace(decision, state=after.state) if after.state is not decision.state else decision, finished, after)
        return after.state

    def _durably(self, write: Callable[[], Recorded | None], job: Job, token: str, entry: Entry, *, called: bool) -> Recorded | None:
        """Run ``write`` until the database takes it. After a first failure the outcome of a call
        that was made is journalled (:mod:`worker.journal`); once it is, the worker gives up after
        ``database_retry_seconds`` and leaves it to the recovery. An outcome that could not be
        journalled either is held on to until the database is back: it exists nowhere else."""
        try:
            return write()
        except Exception as exc:
            if not unreachable(exc):
                raise
        log.warning("job %s: the job store is unreachable; attempt %s is recorded when it is back", job.id, job.attempt_count)
        journalled = called and self.journal is not None and self.journal.keep(job.id, token, entry)
        give_up_at = time.monotonic() + self.settings.database_retry_seconds
        for attempt in retrying(timeout=None):
            with attempt:
                try:
                    recorded = write()
                except Exception as exc:
                    if not unreachable(exc):
                        raise
                    if called and not journalled and self.journal is not None:
                        journalled = self.journal.keep(job.id, token, entry)
                    if (journalled or not called) and time.monotonic() > give_up_at:
                        raise DatabaseUnavailable(
                            f"job {job.id}: the job store stayed unreachable; "
                            + ("the outcome is journalled for the recovery" if journalled else "the recovery takes the job over")
                        ) from exc
                    raise
        if journalled and self.journal is not None:
            self.journal.drop(job.id, token)
        return recorded

    def _write(
        self,
        job: Job,
        token: str,
        outcome: Outcome,
        decision: Decision,
        waiting_for: str | None,
        started: datetime,
        finished: datetime,
        *,
        called: bool,
    ) -> Recorded | None:
        """The job's move and its attempts row, atomically, and what the move calls for (jobs a
        delete made unnecessary, a stored file, new references). What it found out, or ``None``
        if the lease was lost (with ``called``, the attempt is then kept as a late one).

        On PostgreSQL, when nothing follows the move, it is one statement (:mod:`worker.statements`);
        otherwise one transaction."""
        adapter = self.adapters.get(job.provider)
        values = job_values(decision, job, finished, outcome, waiting_for)
        params: dict[str, Any] = {f"new_{name}": values[name] for name in statements.RECORDED}
        params.update(job_id=job.id, token=token, to=transitions.target("record", decision.state))
        with_result = "result" in values
        if with_result:
            params["new_result"] = values["result"]
        attempt = attempt_values(job.id, job.attempt_count, outcome, started, finished)
        found: set[str] = set()
        # the payload's references are read only when the result has any (most answers have none)
        if decision.state is JobState.SUCCEEDED and adapter is not None and (found := references.of_result(adapter, decision.result)):
            found -= references.of_payload(adapter, job.payload)
        superseding = (
            decision.state is JobState.SUCCEEDED and adapter is not None and bool(job.sequence_key) and job.kind in adapter.supersedes
        )
        follows = len(found) > 1 or superseding or outcome.artifact is not None
        if self._one_statement and not follows:
            statement = statements.RECORD_RESULT_WITH_ATTEMPT if with_result else statements.RECORD_WITH_ATTEMPT
            if found:  # a submit's one new reference, kept by the same statement
                statement, params["reference"] = statements.RECORD_RESULT_WITH_ATTEMPT_AND_REFERENCE, next(iter(found))
            rows = self.store.statement(statement, {**params, **{f"attempt_{k}": v for k, v in attempt.items() if k != "job_id"}})
            if rows:
                return Recorded(JobState(rows[0].state), has_dependents=bool(rows[0].has_dependents), notify_due=bool(rows[0].notify_due))
            if not called:
                return None
            with self.store.connection() as connection:
                return self._late(connection, job, decision, outcome, started, finished)
        with self.store.connection() as connection:
            row = connection.execute(statements.RECORD_RESULT if with_result else statements.RECORD, params).first()
            if row is None:
                return self._late(connection, job, decision, outcome, started, finished) if called else None
            connection.execute(statements.INSERT_ATTEMPT, attempt)
            state = JobState(row.state)
            if state is JobState.SUCCEEDED and adapter is not None:
                if superseding:
                    self._skip_superseded(connection, job, adapter.supersedes.get(job.kind, ()), finished)
                if found:
                    references.add(connection, job.id, found, "result")
                if (artifact := outcome.artifact) is not None:
                    connection.execute(
                        insert(Artifact).values(
                            job_id=job.id,
                            provider=job.provider,
                            path=artifact.path,
                            sha256=artifact.sha256,
                            size=artifact.size,
                            created_at=finished,
                        )
                    )
        return Recorded(state, has_dependents=bool(row.has_dependents), notify_due=bool(row.notify_due))

    def _late(
        self, connection: Connection, job: Job, decision: Decision, outcome: Outcome, started: datetime, finished: datetime
    ) -> Recorded | None:
        """The lease was lost: keep the attempt late, or find it recorded already (follow up as after any end)."""
        if self._record_late(connection, job, outcome, started, finished):
            return Recorded(decision.state, has_dependents=True, notify_due=True)
        return None

    def _skip_superseded(self, session: Connection, job: Job, kinds: tuple[str, ...], now: datetime) -> None:
        """Unfinished jobs that this one made unnecessary (updates of an order just deleted)."""
        if not kinds:
            return
        transitions.move(
            session,
            "supersede",
            Job.provider == job.provider,
            Job.account == job.account,
            Job.sequence_key == job.sequence_key,
            Job.kind.in_(kinds),
            to=JobState.SKIPPED,
            values={
                "result": {"skipped": f"unnecessary after {job.kind} job {job.id} succeeded"},
                "error_code": None,
                "error_message": None,
                "updated_at": now,
            },
        )

    def _record_late(self, connection: Connection, job: Job, outcome: Outcome, started: datetime, finished: datetime) -> bool:
        """The lease expired mid-call and recovery took the job over. Keep what the call did as
        its own attempt (a fresh number) without touching the job's state — unless this attempt
        is recorded already: by an earlier try whose COMMIT landed but whose answer was lost, or
        by the recovery from the journal (``True``: nothing more to write)."""
        recorded = connection.execute(
            select(Attempt.outcome).where(Attempt.job_id == job.id, Attempt.number == job.attempt_count)
        ).scalar_one_or_none()
        if recorded == outcome.kind.value and outcome.kind is not OutcomeKind.CRASHED:
            return True
        number = connection.execute(
            update(Job).where(Job.id == job.id).values(attempt_count=Job.attempt_count + 1).returning(Job.attempt_count)
        ).scalar_one()
        note = "finished after its lease expired; the job's state was left to the recovery"
        if outcome.result:
            note += f"; result: {outcome.result}"
        connection.execute(statements.INSERT_ATTEMPT, {**attempt_values(job.id, number, outcome, started, finished), "note": note})
        return False

    def _after(self, job: Job, decision: Decision, now: datetime, recorded: Recorded) -> None:
        """Run the :attr:`after_commit` hooks once the attempt's transaction has committed."""
        for hook in self.after_commit:
            try:
                hook(job, decision, now, recorded)
            except Exception:
                log.exception("job %s: an after-commit step failed; beat catches up", job.id)

    def _hook_ended(self, job: Job, decision: Decision, now: datetime, recorded: Recorded) -> None:
        """An end: release the jobs that wait for it and tell the producer — each only if there
        is one (the record said so; most jobs have neither, and then nothing is read)."""
        if not decision.state.finished:
            return
        if recorded.has_dependents:
            try:
                dependencies.release(self.store, self.publisher, job.id)
            except Exception:
                log.exception("job %s: releasing its dependents failed; beat's release_stuck does it", job.id)
        if recorded.notify_due and self.notifier is not None:
            try:
                self.notifier.announce(job.id)
            except Exception:
                log.exception("job %s: announcing its end failed; beat's notify_pending tries again", job.id)

    def _hook_short_wait(self, job: Job, decision: Decision, now: datetime, recorded: Recorded) -> None:
        """A short wait also goes out as a Celery countdown, for punctuality; longer ones live
        only in the database, where beat's dispatch_due finds them when due."""
        if decision.state is JobState.WAITING and decision.next_attempt_at is not None:
            delay = max(0.0, (decision.next_attempt_at - now).total_seconds())
            if delay <= self.settings.countdown_max:
                self._publish(job, countdown=delay)

    def ended(self, job_id: str) -> None:
        """What follows a job's end: its dependents go on, its producer hears (if it asked).
        Either may fail without harm: beat's ``release_stuck`` and ``notify_pending`` catch up."""
        self.release_dependents(job_id)
        if self.notifier is not None:
            try:
                self.notifier.announce(job_id)
            except Exception:
                log.exception("job %s: announcing its end failed; beat's notify_pending tries again", job_id)

    def release_dependents(self, job_id: str) -> None:
        """Let the jobs that wait for ``job_id`` go on (or fail), now that it has ended."""
        with self.store.transaction() as session:
            finished = session.get(Job, job_id)
        if finished is not None and JobState(finished.state).finished:
            try:
                dependencies.release(self.store, self.publisher, finished.id)
            except Exception:
                log.exception("job %s: releasing its dependents failed", job_id)

    def _publish(self, job: Job, countdown: float | None = None) -> None:
        self._publish_id(job.id, job.kind, job.provider, countdown)

    def _publish_id(self, job_id: str, kind: str, provider: str, countdown: float | None = None) -> None:
        try:
            self.publisher.publish(job_id, kind, provider, countdown=countdown)
        except Exception:  # the row stays waiting/queued; beat publishes it again
            log.exception("job %s: publishing failed; beat will publish it again", job_id)
