"""Reading jobs back: one job with its attempts, filtered lists, waiting for an end."""

from __future__ import annotations

import re
import time

from sqlalchemy import ColumnElement, and_, or_, select

from worker import references
from worker.errors import AmbiguousJobId, JobNotFound
from worker.jobview import JobInfo
from worker.runtime import Runtime, get_runtime
from worker.states import JobState
from worker.store import Job, JobReference

#: The shortest prefix taken for a job id (tables show 8 characters), as git takes 4 of a hash.
MIN_PREFIX = 4
#: Candidates named when a prefix is ambiguous.
SHOWN_CANDIDATES = 5


def resolve_job_id(text: str, *, runtime: Runtime | None = None) -> str:
    """The full id of the one job whose id is ``text`` or starts with it (like git's short
    hashes). An unknown id raises :class:`JobNotFound`; a prefix shared by several jobs raises
    :class:`AmbiguousJobId` naming them. The lookup is a range on the primary key."""
    runtime = runtime or get_runtime()
    wanted = text.strip().lower()
    if len(wanted) < MIN_PREFIX:
        raise JobNotFound(f"no job {text!r} (give the id, or at least {MIN_PREFIX} of its first characters)")
    upper = wanted[:-1] + chr(ord(wanted[-1]) + 1)
    query = select(Job.id).where(Job.id >= wanted, Job.id < upper).order_by(Job.id).limit(SHOWN_CANDIDATES + 1)
    with runtime.store.transaction() as session:
        found = list(session.execute(query).scalars())
    if wanted in found:
        return wanted
    if not found:
        raise JobNotFound(f"no job {text!r}")
    if len(found) > 1:
        names = ", ".join(found[:SHOWN_CANDIDATES]) + (", …" if len(found) > SHOWN_CANDIDATES else "")
        raise AmbiguousJobId(f"{text!r} is the start of several jobs: {names}")
    return found[0]


def get_job(job_id: str, *, attempts: bool = True, runtime: Runtime | None = None) -> JobInfo:
    runtime = runtime or get_runtime()
    with runtime.store.transaction() as session:
        info = JobInfo.load(session, job_id, history=attempts)
    if info is None:
        raise JobNotFound(f"no job {job_id!r}")
    return info


def matching(text: str) -> ColumnElement[bool]:
    """The jobs ``text`` names: by id (or a prefix of at least :data:`MIN_PREFIX` characters), by
    idempotency key, or by any reference they carry (:mod:`worker.references`) — a provider's
    ``Order_…``, a Print API id, a shop's own order id. Each is an indexed lookup."""
    wanted = text.strip()
    folded = references.fold(wanted)
    conditions: list[ColumnElement[bool]] = [
        Job.idempotency_key == wanted,
        Job.id.in_(select(JobReference.job_id).where(JobReference.value == folded)),
    ]
    if len(folded) >= MIN_PREFIX and re.fullmatch(r"[0-9a-f-]+", folded):
        conditions.append(and_(Job.id >= folded, Job.id < folded[:-1] + chr(ord(folded[-1]) + 1)))
    return or_(*conditions)


def list_jobs(
    *,
    state: str | None = None,
    provider: str | None = None,
    kind: str | None = None,
    account: str | None = None,
    q: str | None = None,
    limit: int = 50,
    offset: int = 0,
    runtime: Runtime | None = None,
) -> list[JobInfo]:
    """The newest jobs first, filtered; ``q`` as :func:`find_jobs` matches."""
    runtime = runtime or get_runtime()
    query = select(Job).order_by(Job.created_at.desc(), Job.id).limit(limit).offset(offset)
    if state:
        query = query.where(Job.state == JobState(state).value)
    if provider:
        query = query.where(Job.provider == provider)
    if kind:
        query = query.where(Job.kind == kind)
    if account:
        query = query.where(Job.account == account)
    if q and q.strip():
        query = query.where(matching(q))
    with runtime.store.transaction() as session:
        return [JobInfo.of(job) for job in session.execute(query).scalars()]


def find_jobs(text: str, *, limit: int = 50, runtime: Runtime | None = None) -> list[JobInfo]:
    """``printrelay jobs find``: the jobs ``text`` names (see :func:`matching`), newest first."""
    return list_jobs(q=text, limit=limit, runtime=runtime) if text.strip() else []


def wait_for(job_id: str, *, timeout: float = 60.0, interval: float = 0.1, runtime: Runtime | None = None) -> JobInfo:
    """Poll until the job has finished (or ``timeout`` passes); the last snapshot either way."""
    deadline = time.monotonic() + timeout
    while True:
        job = get_job(job_id, runtime=runtime)
        if job.finished or time.monotonic() >= deadline:
            return job
        time.sleep(interval)
