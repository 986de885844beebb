"""What operators do to jobs, in one place: exposed as the CLI (``printrelay jobs …``) and as
the admin tasks (``printrelay.admin.*``, callable from Flower's API or any Celery client).

Every action is one conditional UPDATE (so it cannot race a worker into a double run) plus a
``job_events`` row saying who or what did it; the job is published after the commit.

- ``retry``: ``failed``/``needs_review``/``canceled`` → ``queued``. Attempt numbers continue;
  the attempt budget and the deadline start afresh.
- ``replay``: any finished job runs again, its history kept. A succeeded ``submit_order``
  needs ``force``: replaying it places a second order.
- ``cancel``: a ``queued``/``waiting``/``blocked`` job stops now; a ``running`` one stops after
  its current attempt. Canceling a ``needs_review`` job is how an operator says "dealt with":
  the jobs queued behind it on the same order go on.
- ``retry_failed``: ``retry`` for every failed job matching the filters (``dry_run`` counts).
- A job whose customer data retention scrubbed (:mod:`worker.retention`) can be neither retried
  nor replayed: what it would send is gone.
- ``pause`` / ``resume`` a provider account (:mod:`worker.holds`): its jobs wait without
  spending attempts; resuming queues them at once. Recorded in ``provider_events``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from worker import privacy, transitions
from worker.errors import JobNotFound, PrintrelayError
from worker.publishing import publish_all
from worker.runtime import Runtime
from worker.states import FINISHED, JobState
from worker.store import Job, JobEvent
from worker.waiting.policy import policy_for

RETRYABLE = (JobState.FAILED, JobState.NEEDS_REVIEW, JobState.CANCELED)
CANCELABLE = (JobState.QUEUED, JobState.WAITING, JobState.BLOCKED, JobState.NEEDS_REVIEW)


class NotAllowed(PrintrelayError):
    code = "not_allowed"


@dataclass(frozen=True)
class Done:
    job_id: str
    action: str
    state: str

    def to_dict(self) -> dict[str, str]:
        return {"job_id": self.job_id, "action": self.action, "state": self.state}


def parse_duration(text: str, field: str = "since") -> timedelta:
    """``90s``, ``30m``, ``2h``, ``7d`` (or plain seconds)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if not match:
        raise PrintrelayError(f"{field}: {text!r} is not a duration like 30m, 2h or 7d", code="invalid_argument")
    return timedelta(seconds=float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)])


class Admin:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def retry(self, job_id: str, *, actor: str) -> Done:
        return self._requeue(job_id, "retry", RETRYABLE, actor=actor, fresh_budget=True)

    def replay(self, job_id: str, *, actor: str, force: bool = False) -> Done:
        job = self._get(job_id)
        adapter = self.runtime.runner.adapters.get(job.provider)
        creates = adapter is not None and job.kind in adapter.creates
        if creates and job.state == JobState.SUCCEEDED.value and not force:
            raise NotAllowed(
                f"job {job_id} placed an order; replaying it places a second one: use --force (force=True) if that is what you want"
            )
        return self._requeue(job_id, "replay", tuple(FINISHED), actor=actor, fresh_budget=True, clear_result=True)

    def cancel(self, job_id: str, *, actor: str) -> Done:
        now = self.runtime.runner.clock()
        with self.runtime.store.transaction() as session:
            moved = transitions.moved(
                transitions.move(
                    session,
                    "cancel",
                    Job.id == job_id,
                    to=JobState.CANCELED,
                    sources=CANCELABLE,
                    values={"next_attempt_at": None, "updated_at": now},
                )
            )
            if moved:
                session.add(JobEvent(job_id=job_id, action="cancel", actor=actor, at=now))
                canceled = True
            else:
                canceled = False
        if canceled:
            self.runtime.runner.ended(job_id)
            return Done(job_id, "cancel", JobState.CANCELED.value)
        with self.runtime.store.transaction() as session:
            later = session.execute(
                update(Job).where(Job.id == job_id, Job.state == JobState.RUNNING.value).values(cancel_requested=True, updated_at=now)
            ).rowcount  # type: ignore[attr-defined]
            if later:
                session.add(
                    JobEvent(job_id=job_id, action="cancel", actor=actor, detail="running: stops after its current attempt", at=now)
                )
                return Done(job_id, "cancel", JobState.RUNNING.value)
        job = self._get(job_id)
        raise NotAllowed(f"job {job_id} is {job.state}: only queued, waiting, blocked, needs_review or running jobs can be canceled")

    def pause(self, provider: str, account: str = "default", *, seconds: float | None, reason: str | None, actor: str) -> dict[str, Any]:
        """Hold the provider account's jobs (for ``seconds``, else until resumed)."""
        self._provider_account(provider, account)
        if seconds is not None and seconds <= 0:
            raise PrintrelayError("seconds: must be more than 0", code="invalid_argument")
        pause = self.runtime.holds.pause(provider, account, seconds=seconds, reason=reason, actor=actor)
        return {"provider": provider, "account": account, "paused": pause.to_dict()}

    def resume(self, provider: str, account: str = "default", *, actor: str) -> dict[str, Any]:
        """End the pause; the jobs it held are queued now (and take their rate-limit slots)."""
        self._provider_account(provider, account)
        released = self.runtime.holds.resume(provider, account, actor=actor)
        publish_all(self.runtime.store, self.runtime.publisher, released)
        return {"provider": provider, "account": account, "paused": None, "released": len(released)}

    def _provider_account(self, provider: str, account: str) -> None:
        from worker.adapters.registry import print_providers

        if provider not in print_providers():
            raise PrintrelayError(f"unknown provider {provider!r} (known: {', '.join(print_providers())})", code="unknown_provider")
        if not self.runtime.settings.provider(provider).has_account(account):
            raise PrintrelayError(f"no settings for account {account!r} of {provider}", code="unknown_account")

    def retry_failed(
        self,
        *,
        actor: str,
        provider: str | None = None,
        kind: str | None = None,
        error_code: str | None = None,
        since: str | None = None,
        account: str | None = None,
        dry_run: bool = False,
    ) -> list[str]:
        """Retry every failed job matching the filters; the ids retried (with ``dry_run``, those
        that match)."""
        query = select(Job.id).where(Job.state == JobState.FAILED.value).order_by(Job.created_at)
        if provider:
            query = query.where(Job.provider == provider)
        if kind:
            query = query.where(Job.kind == kind)
        if account:
            query = query.where(Job.account == account)
        if error_code:
            query = query.where(Job.error_code == error_code)
        if since:
            query = query.where(Job.updated_at >= self.runtime.runner.clock() - parse_duration(since))
        with self.runtime.store.transaction() as session:
            ids = list(session.execute(query).scalars())
        if dry_run:
            return ids
        retried = []
        for job_id in ids:
            try:
                self._requeue(job_id, "retry", (JobState.FAILED,), actor=actor, fresh_budget=True, detail="retry-failed")
            except NotAllowed:
                continue  # scrubbed, or moved on since it was listed
            retried.append(job_id)
        return retried

    # -- plumbing ------------------------------------------------------------------------

    def _requeue(
        self,
        job_id: str,
        action: str,
        allowed: tuple[JobState, ...],
        *,
        actor: str,
        fresh_budget: bool,
        clear_result: bool = False,
        detail: str | None = None,
    ) -> Done:
        job = self._get(job_id)
        if job.scrubbed_at is not None and privacy.is_scrubbed(job.payload):
            raise NotAllowed(
                f"job {job_id} cannot {action}: its customer data was scrubbed on {job.scrubbed_at:%Y-%m-%d} "
                "(PRINTRELAY_RETENTION__SCRUB_DAYS); enqueue the order again instead"
            )
        adapter = self.runtime.runner.adapters.get(job.provider)
        deadline = (adapter.policy(job.kind, self.runtime.settings) if adapter else policy_for(job.kind, self.runtime.settings)).deadline
        now = self.runtime.runner.clock()
        values: dict[str, Any] = {
            "error_code": None,
            "error_message": None,
            "next_attempt_at": None,
            "queued_at": now,
            "updated_at": now,
            "cancel_requested": False,
            "deadline_at": now + timedelta(seconds=deadline),
            **transitions.REARM,
        }
        if fresh_budget:
            values["budget_used"] = 0
        if clear_result:
            values["result"] = None
        with self.runtime.store.transaction() as session:
            moved = transitions.moved(
                transitions.move(session, action, Job.id == job_id, to=JobState.QUEUED, sources=allowed, values=values)
            )
            if not moved:
                names = ", ".join(s.value for s in allowed)
                raise NotAllowed(f"job {job_id} is {job.state}: {action} takes a job that is {names}")
            session.add(JobEvent(job_id=job_id, action=action, actor=actor, detail=detail, at=now))
        publish_all(self.runtime.store, self.runtime.publisher, [(job_id, job.kind, job.provider)])
        return Done(job_id, action, JobState.QUEUED.value)

    def _get(self, job_id: str) -> Job:
        with self.runtime.store.transaction() as session:
            job = session.get(Job, job_id)
            if job is None:
                raise JobNotFound(f"no job {job_id!r}")
            return job
