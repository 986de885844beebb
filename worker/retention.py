"""Forgetting in time: finished jobs are deleted, and customer data scrubbed, once they are old.

At 100 000 orders a day the job tables grow by a few hundred thousand rows a day, and every order's
payload holds its customer's name, address, e-mail and phone number. Beat's hourly
``printrelay.maintenance.retention`` (and ``printrelay jobs purge``) keeps that bounded:

- **scrub** (``PRINTRELAY_RETENTION__SCRUB_DAYS``, 30): the customer data in the payload of a job
  that finished that long ago is replaced by a marker (:mod:`worker.privacy`); such a job can no
  longer be replayed or retried, and says so;
- **purge** (``PRINTRELAY_RETENTION__FINISHED_DAYS``, 90): a job that finished that long ago is
  deleted with its attempts, events, references and dependency links (the database's cascades),
  and the files it stored under the artifact directory.

Kept whatever their age: unfinished jobs, jobs under review (``needs_review``: they wait for a
person, and may stand for an order that was placed), and jobs that an unfinished or reviewed job
depends on (its ``$job`` reference still needs their result).

Each batch of :attr:`RetentionSettings.batch` jobs is one short transaction, so a run over a big
backlog never holds long locks; a tick simply goes on until nothing is left.

    >>> purge(store, before=utcnow() - timedelta(days=90), batch=1000)        # doctest: +SKIP
    Purged(jobs=120000, batches=120, seconds=41.3)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Select, delete, exists, func, select, update
from sqlalchemy.orm import aliased

from worker import privacy
from worker.adapters.base import Adapter
from worker.states import JobState
from worker.store import Artifact, Dependency, Job, Store

log = logging.getLogger("printrelay.retention")

#: Finished states that retention forgets (``needs_review`` waits for a person: it is kept).
FORGETTABLE = (JobState.SUCCEEDED.value, JobState.FAILED.value, JobState.CANCELED.value, JobState.SKIPPED.value)
#: States of a dependent job that keep the job it depends on.
STILL_NEEDED_BY = (
    JobState.QUEUED.value,
    JobState.RUNNING.value,
    JobState.WAITING.value,
    JobState.BLOCKED.value,
    JobState.NEEDS_REVIEW.value,
)


@dataclass(frozen=True)
class Purged:
    jobs: int
    batches: int
    seconds: float
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def purgeable(before: datetime) -> Select[Any]:
    """Ids of the jobs a purge with cut-off ``before`` deletes (see the module docstring)."""
    dependent = aliased(Job)
    needed = exists().where(Dependency.depends_on == Job.id, Dependency.job_id == dependent.id, dependent.state.in_(STILL_NEEDED_BY))
    return select(Job.id).where(Job.state.in_(FORGETTABLE), Job.updated_at < before, ~needed)


def purge(store: Store, *, before: datetime, batch: int = 1000, dry_run: bool = False, artifact_dir: Path | None = None) -> Purged:
    """Delete the jobs that finished before ``before``, ``batch`` per transaction (``dry_run``: count them)."""
    started = time.monotonic()
    if dry_run:
        with store.transaction() as session:
            count = session.execute(select(func.count()).select_from(purgeable(before).subquery())).scalar_one()
        return Purged(int(count), 0, round(time.monotonic() - started, 3), dry_run=True)
    total = batches = 0
    while True:
        with store.transaction() as session:
            ids = list(session.execute(purgeable(before).limit(batch)).scalars())
            if not ids:
                break
            files = list(session.execute(select(Artifact.path).where(Artifact.job_id.in_(ids))).scalars())
            session.execute(delete(Job).where(Job.id.in_(ids)))
        _remove(files, artifact_dir)
        total, batches = total + len(ids), batches + 1
    if total:
        log.info("purged %d jobs that finished before %s (%d batches)", total, before.isoformat(), batches)
    return Purged(total, batches, round(time.monotonic() - started, 3))


def scrub(store: Store, adapters: Mapping[str, Adapter[Any]], *, before: datetime, now: datetime, batch: int = 1000) -> int:
    """Replace the customer data in the payloads of jobs that finished before ``before``; how
    many jobs were looked at (each is marked ``scrubbed_at``, whether it held any or not)."""
    total = 0
    while True:
        with store.transaction() as session:
            rows = session.execute(
                select(Job.id, Job.provider, Job.payload)
                .where(Job.state.in_(FORGETTABLE), Job.updated_at < before, Job.scrubbed_at.is_(None))
                .limit(batch)
            ).all()
            if not rows:
                break
            changes = [{"id": r.id, "payload": privacy.scrubbed(adapters.get(r.provider), r.payload), "scrubbed_at": now} for r in rows]
            session.execute(update(Job), changes)
        total += len(rows)
    if total:
        log.info("scrubbed the customer data of %d jobs that finished before %s", total, before.isoformat())
    return total


def _remove(paths: list[str], artifact_dir: Path | None) -> None:
    """The stored files of purged jobs — only those under the artifact directory."""
    if artifact_dir is None:
        return
    root = artifact_dir.resolve()
    for name in paths:
        path = Path(name).resolve()
        if path.is_relative_to(root):
            path.unlink(missing_ok=True)
