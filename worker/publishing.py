"""Publishing queued jobs after their commit, and remembering the ones that could not be.

The row is the truth and the Celery message only says "look at job X", so a message that cannot
go out (Redis down, a failover) loses nothing: the job stays ``queued``. So that it does not wait
``requeue_after`` for beat's ``requeue_lost`` either, a job whose publish failed is marked
unpublished (``queued_at`` is NULL) and beat's every-second tick publishes it again as soon as
Redis answers (:func:`worker.maintenance.publish_unpublished`).

    >>> publish_all(store, publisher, [(job.id, job.kind, job.provider)])   # doctest: +SKIP
    1

Warning: only for jobs that are ``queued``. A wait sent as a countdown is the dispatcher's
business when it fails (the job is ``waiting`` and becomes due on its own).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Protocol

from sqlalchemy import update

from config.celery import queue_for
from worker.states import JobState
from worker.store import Job, Store

log = logging.getLogger("printrelay.publishing")


class Publisher(Protocol):
    """Puts "run job X" on the queue; Celery in production (``worker.runtime.CeleryPublisher``)."""

    def publish(self, job_id: str, kind: str, provider: str, *, countdown: float | None = None) -> None: ...


class BatchPublisher(Publisher, Protocol):
    """A publisher that can send many messages in one go (Celery's, pipelined on Redis)."""

    def publish_many(self, rows: list[tuple[str, str, str]]) -> None: ...


#: Below this many, messages go out one by one (a batch's set-up costs more than it saves).
BATCH_FROM = 8


class CeleryPublisher:
    """Publishes ``printrelay.<kind>(job_id=…)`` to the provider's queue: a job id, nothing else."""

    def publish(self, job_id: str, kind: str, provider: str, *, countdown: float | None = None) -> None:
        from worker.app import app

        app.send_task(f"printrelay.{kind}", kwargs={"job_id": job_id}, queue=queue_for(provider), countdown=countdown)

    def publish_many(self, rows: list[tuple[str, str, str]]) -> None:
        """Many (id, kind, provider) at once: one connection, the messages pipelined to Redis
        (kombu's ``Producer.batch``), instead of a round trip each."""
        from worker.app import app

        with app.producer_or_acquire() as producer, producer.batch(max_size=1000):
            for job_id, kind, provider in rows:
                # Straight to the queue's list (Celery's direct route): nothing to declare per
                # message, and no retry per message: a batch that fails is published again whole
                # by beat (publish_all marks it unpublished).
                app.send_task(
                    f"printrelay.{kind}", kwargs={"job_id": job_id}, queue=queue_for(provider), producer=producer, declare=[], retry=False
                )

    def send_notification(self, task: str, job: dict[str, Any], queue: str) -> None:
        """The producer's own task, with the finished job's JSON (:mod:`worker.notify`)."""
        from worker.app import app

        app.send_task(task, args=[job], queue=queue)


def publish_all(store: Store, publisher: Publisher, rows: Iterable[tuple[str, str, str]]) -> int:
    """Publish each queued (id, kind, provider); how many went out. At the first failure the
    rest are not tried (Redis is away: each try would cost its timeout) and all of them are
    marked unpublished."""
    pending = list(rows)
    if len(pending) >= BATCH_FROM and (many := getattr(publisher, "publish_many", None)) is not None:
        try:
            many(pending)
        except Exception as exc:
            log.warning(
                "publishing %d queued jobs failed (%s: %s); beat publishes them when the broker answers",
                len(pending),
                type(exc).__name__,
                exc,
            )
            mark_unpublished(store, [row[0] for row in pending])  # some may have gone out: a second message is harmless
            return 0
        return len(pending)
    for index, (job_id, kind, provider) in enumerate(pending):
        try:
            publisher.publish(job_id, kind, provider)
        except Exception as exc:
            failed = [row[0] for row in pending[index:]]
            log.warning(
                "publishing %d queued jobs failed (%s: %s); beat publishes them when the broker answers",
                len(failed),
                type(exc).__name__,
                exc,
            )
            mark_unpublished(store, failed)
            return index
    return len(pending)


def mark_unpublished(store: Store, job_ids: list[str]) -> None:
    """``queued_at`` NULL: beat's next tick publishes them. Best-effort: a job left marked as
    published is still found by ``requeue_lost`` after ``requeue_after``."""
    try:
        with store.transaction() as session:
            session.execute(update(Job).where(Job.id.in_(job_ids), Job.state == JobState.QUEUED.value).values(queued_at=None))
    except Exception:
        log.warning("could not mark %d jobs unpublished; requeue_lost will find them", len(job_ids), exc_info=True)
