"""What beat runs: the durable half of waiting, and recovery from lost workers and messages.

Each function does one bounded scan over an index (``state, next_attempt_at``;
``state, lease_expires_at``; ``state, queued_at``), so a tick costs O(matching jobs), not
O(all jobs). Every publish happens after the commit; a publish that fails leaves the job
``queued`` and marked unpublished, for the next tick's :func:`publish_unpublished`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

import redis
from sqlalchemy import ColumnElement, select, update

from worker import dependencies, transitions
from worker.outcome import Outcome
from worker.publishing import publish_all
from worker.runtime import Runtime
from worker.states import JobState, OutcomeKind
from worker.store import Job
from worker.store.reachability import unreachable

log = logging.getLogger("printrelay.maintenance")
BATCH = 1000


def dispatch_due(runtime: Runtime, limit: int = BATCH) -> int:
    """Waiting jobs whose time has come → ``queued`` and published. Returns how many."""
    now = runtime.runner.clock()
    with runtime.store.transaction() as session:
        due = session.execute(
            select(Job.id, Job.kind, Job.provider)
            .where(Job.state == JobState.WAITING.value, Job.next_attempt_at <= now)
            .order_by(Job.next_attempt_at)
            .limit(limit)
        ).all()
        if not due:
            return 0
        transitions.move(
            session,
            "dispatch",
            Job.id.in_([row.id for row in due]),
            to=JobState.QUEUED,
            values={"queued_at": now, "next_attempt_at": None, "updated_at": now},
        )
    _publish_all(runtime, due)
    return len(due)


#: A key beat keeps in the broker's Redis: its absence means Redis lost its data (a flush, a
#: restart without persistence, a failover to an empty replica) and with it the queued messages.
MARKER = "printrelay:marker"


def redis_forgot(runtime: Runtime, limit: int = BATCH) -> int:
    """If the marker is gone, Redis forgot: publish every queued job again now (not after
    ``requeue_after``), then set the marker. Returns how many were published (0 when Redis
    remembers, or cannot be asked: that is a Redis outage, which reconnecting survives).

    The first tick after a deployment finds no marker either: its republishing is harmless,
    as a duplicate message claims nothing."""
    try:
        forgot = bool(runtime.limiter.client.set(MARKER, runtime.runner.clock().isoformat(), nx=True))
    except redis.RedisError:
        return 0
    if not forgot:
        return 0
    published = 0
    now = runtime.runner.clock()
    after = ""
    while True:  # every queued job, in batches by id
        with runtime.store.transaction() as session:
            rows = session.execute(
                select(Job.id, Job.kind, Job.provider)
                .where(Job.state == JobState.QUEUED.value, Job.id > after)
                .order_by(Job.id)
                .limit(limit)
            ).all()
            if not rows:
                break
            session.execute(update(Job).where(Job.id.in_([row.id for row in rows])).values(queued_at=now))
        _publish_all(runtime, rows)
        published += len(rows)
        after = rows[-1].id
    if published:
        log.warning("Redis had lost its data (no %s key): published %d queued jobs again", MARKER, published)
    return published


def publish_unpublished(runtime: Runtime, limit: int = BATCH) -> int:
    """Queued jobs whose publish failed (Redis was away; :mod:`worker.publishing`) are published
    now that it may be back. Returns how many were tried."""
    return _publish_queued(runtime, Job.queued_at.is_(None), Job.created_at, limit)


def requeue_lost(runtime: Runtime, limit: int = BATCH) -> int:
    """Queued jobs nobody claimed for ``requeue_after`` seconds (a flushed or restarted Redis,
    a failed publish) are published again. A duplicate message is harmless: the claim decides."""
    cutoff = runtime.runner.clock() - timedelta(seconds=runtime.settings.requeue_after)
    lost = _publish_queued(runtime, Job.queued_at <= cutoff, Job.queued_at, limit)
    if lost:
        log.warning("requeued %d queued jobs that no worker claimed", lost)
    return lost


def _publish_queued(runtime: Runtime, which: ColumnElement[bool], order: Any, limit: int) -> int:
    """Queued jobs matching ``which`` (at most ``limit``, by ``order``): ``queued_at`` now, published."""
    now = runtime.runner.clock()
    with runtime.store.transaction() as session:
        rows = session.execute(
            select(Job.id, Job.kind, Job.provider).where(Job.state == JobState.QUEUED.value, which).order_by(order).limit(limit)
        ).all()
        if not rows:
            return 0
        session.execute(update(Job).where(Job.id.in_([row.id for row in rows])).values(queued_at=now))
    _publish_all(runtime, rows)
    return len(rows)


def release_stuck(runtime: Runtime, limit: int = BATCH) -> int:
    """Blocked jobs whose dependencies have all ended are queued or failed (see
    :func:`worker.dependencies.release_stuck`). Returns how many moved."""
    moved = dependencies.release_stuck(runtime.store, runtime.publisher, limit)
    if moved:
        log.warning("settled %d blocked jobs whose dependencies had already ended", moved)
    return moved


def notify_pending(runtime: Runtime, limit: int = 500) -> int:
    """Ends not yet announced to their producers (see :mod:`worker.notify`). Returns how many."""
    announced = runtime.notifier.sweep(limit=limit)
    if announced:
        log.info("announced %d job ends that their workers had not", announced)
    return announced


def recover_stale(runtime: Runtime, limit: int = BATCH) -> int:
    """Running jobs whose lease expired (their worker died) get a ``crashed`` attempt and go on
    as the policy says: retried, reconciled first, or sent to review.

    A worker that could not write its attempt (the database was unreachable) journalled the
    outcome (:mod:`worker.journal`): the recovery records that answer instead of a crash, so a
    known answer never becomes an ambiguous one."""
    now = runtime.runner.clock()
    with runtime.store.transaction() as session:
        stale = list(
            session.execute(select(Job).where(Job.state == JobState.RUNNING.value, Job.lease_expires_at <= now).limit(limit)).scalars()
        )
    recovered = 0
    for job in stale:
        if job.lease_token is None:
            continue
        entry = runtime.journal.take(job.id, job.lease_token)
        if entry is not None:
            note = "; ".join(filter(None, [entry.outcome.note, "recorded from the outcome journal: its worker could not write it"]))
            outcome, started, finished = replace(entry.outcome, note=note), entry.started, entry.finished
        else:
            outcome = Outcome(
                OutcomeKind.CRASHED,
                error_code="worker_lost",
                error_message="the worker running this attempt stopped before recording it",
            )
            started, finished = job.updated_at, None
        try:
            state = runtime.runner.record(
                job,
                job.lease_token,
                outcome,
                started=started,
                finished=finished,
                called=False,
                probe_wait=entry.probe_wait if entry else None,
            )
        except Exception as exc:
            if unreachable(exc):
                raise  # the tick waits for the database and tries them all again
            log.exception("job %s could not be recovered; the other jobs are", job.id)  # one job's trouble stops no other's
            continue
        if state is not None:
            recovered += 1
            if entry is not None:
                runtime.journal.drop(job.id, job.lease_token)
    if recovered:
        log.warning("recovered %d jobs from lost workers", recovered)
    return recovered


def _publish_all(runtime: Runtime, rows: Sequence[Any]) -> None:
    publish_all(runtime.store, runtime.publisher, [(row.id, row.kind, row.provider) for row in rows])


def retention(runtime: Runtime) -> int:
    """Scrub, then purge, the finished jobs that are old enough (:mod:`worker.retention`);
    how many jobs were touched."""
    from worker import retention as forget

    settings, now = runtime.settings.retention, runtime.runner.clock()
    touched = 0
    if settings.scrub_days:
        before = now - timedelta(days=settings.scrub_days)
        touched += forget.scrub(runtime.store, runtime.runner.adapters, before=before, now=now, batch=settings.batch)
    if settings.finished_days:
        before = now - timedelta(days=settings.finished_days)
        touched += forget.purge(runtime.store, before=before, batch=settings.batch, artifact_dir=runtime.settings.artifact_dir).jobs
    return touched
