"""Jobs that wait for other jobs: ``{"$job": JOB_ID, "path": "image_reference"}`` in a payload,
and jobs later on the same provider order.

A job with such a reference is ``blocked`` until every job it names has succeeded; it then runs
with the references replaced by those results. A dependency that fails, is canceled or needs
review fails its dependents with ``dependency_failed`` naming it; if the dependency is retried
and succeeds later, those dependents go on.

Jobs sharing a sequence key (the provider order they act on) are linked with ``ordering=True``:
the later one only has to run *after* the earlier one, whatever its outcome — a cancel still
runs when the update before it was refused. The exception is ``needs_review``: nobody knows
what the earlier call did, so the later job stays ``blocked`` until an operator retries or
cancels the one under review.

No polling: finishing a job releases its dependents (:func:`release`). Beat's
:func:`release_stuck` is the backstop for the one race this leaves (a dependency that ended
while its dependent was being enqueued).

Example::

    upload = enqueue("upload_image", "printeers", {...})
    enqueue("submit_order", "printeers", {..., "image_reference": {"$job": upload.id}})
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, aliased

from worker import transitions
from worker.errors import InvalidPayload
from worker.publishing import Publisher, publish_all
from worker.states import JobState
from worker.store import Dependency, Job, Store
from worker.store.types import utcnow

log = logging.getLogger("printrelay.dependencies")


DEPENDENCY_FAILED = "dependency_failed"
#: A dependency that ended so lets its dependents go on (a skipped one has nothing to do; a
#: dependent that needs a field of its result then fails on resolving it).
RELEASING = (JobState.SUCCEEDED.value, JobState.SKIPPED.value)
FAILING = (JobState.FAILED.value, JobState.CANCELED.value, JobState.NEEDS_REVIEW.value)
#: States after which a job later on the same order may run.
ORDERING_RELEASES = (*RELEASING, JobState.FAILED.value, JobState.CANCELED.value)
UNFINISHED = (JobState.QUEUED.value, JobState.RUNNING.value, JobState.WAITING.value, JobState.BLOCKED.value)


@dataclass(frozen=True)
class Link:
    """One dependency of a job as it stands: which job, in what state, and how it binds."""

    depends_on: str
    kind: str
    state: str
    error_code: str | None
    ordering: bool


def verdict(links: Iterable[Link]) -> tuple[JobState, str | None]:
    """What a job with these dependencies should be now: ``queued`` (all released), ``failed``
    (with the message naming the dependency that failed it) or still ``blocked``."""
    blocked = False
    for link in links:
        if link.state in (ORDERING_RELEASES if link.ordering else RELEASING):
            continue
        if not link.ordering and link.state in FAILING:
            return JobState.FAILED, f"job {link.depends_on} ({link.kind}) ended {link.state}" + (
                f": {link.error_code}" if link.error_code else ""
            )
        blocked = True
    return (JobState.BLOCKED, None) if blocked else (JobState.QUEUED, None)


def links_of(session: Session, job_id: str) -> list[Link]:
    other = aliased(Job)
    rows = session.execute(
        select(other.id, other.kind, other.state, other.error_code, Dependency.ordering)
        .join(Dependency, Dependency.depends_on == other.id)
        .where(Dependency.job_id == job_id)
    ).all()
    return [Link(*row) for row in rows]


def references(value: Any, path: str = "payload") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every ``{"$job": …}`` in ``value``, with where it is."""
    if isinstance(value, dict):
        if "$job" in value:
            yield path, value
            return
        for key, item in value.items():
            yield from references(item, key if path == "payload" else f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from references(item, f"{path}[{index}]")


def check(payload: Any) -> list[str]:
    """The job ids a payload depends on, or InvalidPayload naming a malformed reference."""
    ids = []
    for where, ref in references(payload):
        if not isinstance(ref.get("$job"), str) or not ref["$job"]:
            raise InvalidPayload(where, '"$job" must be a job id')
        if not isinstance(ref.get("path", "image_reference"), str) or set(ref) - {"$job", "path"}:
            raise InvalidPayload(where, 'a job reference is {"$job": JOB_ID, "path": "field.of.its.result"}')
        ids.append(ref["$job"])
    if any("$image" in ref for _, ref in _all_dicts(payload)):
        raise InvalidPayload(
            next(w for w, r in _all_dicts(payload) if "$image" in r),
            '"$image" references are resolved by enqueue helpers (--image NAME=PATH)',
        )
    return sorted(set(ids))


def resolve(payload: Any, results: dict[str, dict[str, Any] | None]) -> Any:
    """``payload`` with every reference replaced by the named field of that job's result."""
    if isinstance(payload, dict):
        if "$job" in payload:
            value: Any = results.get(payload["$job"]) or {}
            for part in str(payload.get("path", "image_reference")).split("."):
                if isinstance(value, list) and part.isdigit() and int(part) < len(value):
                    value = value[int(part)]
                elif isinstance(value, dict) and part in value:
                    value = value[part]
                else:
                    raise KeyError(f"job {payload['$job']} has no result field {payload.get('path', 'image_reference')!r}")
            return value
        return {k: resolve(v, results) for k, v in payload.items()}
    if isinstance(payload, list):
        return [resolve(v, results) for v in payload]
    return payload


def release(store: Store, publisher: Publisher, finished: str) -> None:
    """After job ``finished`` ended: move each of its dependents on as :func:`verdict` says."""
    with store.transaction() as session:
        dependents = list(session.execute(select(Dependency.job_id).where(Dependency.depends_on == finished)).scalars())
    settle(store, publisher, dependents)


def release_stuck(store: Store, publisher: Publisher, limit: int = 1000) -> int:
    """Blocked jobs none of whose dependencies is still unfinished: settle them. Catches the
    dependency that ended between its dependent's enqueue check and commit. Returns how many moved."""
    other = aliased(Job)
    pending = (
        select(Dependency.job_id)
        .join(other, other.id == Dependency.depends_on)
        .where(Dependency.job_id == Job.id, other.state.in_(UNFINISHED))
    )
    with store.transaction() as session:
        stuck = list(
            session.execute(
                select(Job.id).where(Job.state == JobState.BLOCKED.value, ~exists(pending)).order_by(Job.updated_at).limit(limit)
            ).scalars()
        )
    return settle(store, publisher, stuck) if stuck else 0


def settle(store: Store, publisher: Publisher, job_ids: Sequence[str]) -> int:
    """Queue or fail each of ``job_ids`` that its dependencies allow. A ``blocked`` job moves,
    and so does one that failed with ``dependency_failed`` (its dependency was retried)."""
    now = utcnow()
    waiting_on_us = (Job.state == JobState.BLOCKED.value) | ((Job.state == JobState.FAILED.value) & (Job.error_code == DEPENDENCY_FAILED))
    moved: list[Any] = []
    failed: list[str] = []
    with store.transaction() as session:
        for job_id in job_ids:
            state, message = verdict(links_of(session, job_id))
            if state is JobState.FAILED:
                failed += transitions.move(
                    session,
                    "block_fail",
                    Job.id == job_id,
                    to=JobState.FAILED,
                    values={"error_code": DEPENDENCY_FAILED, "error_message": message, "updated_at": now},
                    returning=(Job.id,),
                ).scalars()
            elif state is JobState.QUEUED:
                row = transitions.move(
                    session,
                    "release",
                    Job.id == job_id,
                    waiting_on_us,
                    to=JobState.QUEUED,
                    values={"error_code": None, "error_message": None, "queued_at": now, "updated_at": now, **transitions.REARM},
                    returning=(Job.id, Job.kind, Job.provider),
                ).first()
                if row is not None:
                    moved.append(row)
    publish_all(store, publisher, [(job_id, kind, provider) for job_id, kind, provider in moved])
    for job_id in failed:  # what waited for a job that just failed fails too, now (a chain of $job)
        release(store, publisher, job_id)
    return len(moved) + len(failed)


def _all_dicts(value: Any, path: str = "payload") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(value, dict):
        yield path, value
        for key, item in value.items():
            yield from _all_dicts(item, key if path == "payload" else f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _all_dicts(item, f"{path}[{index}]")
