"""Telling the producer how a job ended: a Celery task of theirs, and/or a signed POST to a URL.

>>> worker.enqueue("submit_order", "printeers", order,
...                notify={"task": "shop.fulfilment_finished", "queue": "shop"})     # doctest: +SKIP

- ``task``: printrelay sends ``task(job)`` (``queue``, default ``celery``) with the finished job's
  JSON as in ``jobs show --json``, attempts included: the Celery-native way to hear back.
- ``url``: a ``notify`` job of the internal ``webhook`` provider POSTs the same JSON there,
  signed (see :mod:`worker.adapters.webhook`), retried with the ``notify`` waiting policy and
  recorded like any job. Needs ``PRINTRELAY_WEBHOOK__SECRET``.

When: the moment the job ends, from the worker that ended it (or an operator's cancel); and, as
the backstop, beat's ``notify_pending`` for ends that happened elsewhere (a dependency failed
it, a delete superseded it, recovery sent it to review) or whose announcement failed (Redis
away). A job retried or replayed later is announced again when it ends again.

.. warning:: Delivery is **at least once**. A worker that dies between sending and marking the
   job announced sends again. Receivers should drop repeats: ``id`` + ``updated_at`` of the job
   name one end (and ``X-Printrelay-Delivery`` one webhook notification).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import select, update

from config.settings import Settings
from worker.adapters.base import field_path
from worker.adapters.webhook import check_url
from worker.errors import InvalidPayload
from worker.jobview import JobInfo, iso
from worker.states import FINISHED
from worker.store import Job, Store
from worker.store.types import utcnow

if TYPE_CHECKING:
    from worker.intake import Intake

log = logging.getLogger("printrelay.notify")

#: Ends younger than this are left to the worker that made them (the fast path) by the sweep.
SWEEP_GRACE = 5.0
#: For a job put back to work (retry, replay, a released dependent): announce its next end too.


class NotifyRequest(BaseModel):
    """What ``notify=`` may say; at least one of ``task`` and ``url``."""

    model_config = ConfigDict(extra="forbid")
    task: str | None = Field(default=None, min_length=1, max_length=255)
    queue: str = Field(default="celery", min_length=1, max_length=255)
    url: str | None = Field(default=None, min_length=1, max_length=2048)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return check_url(value) if value is not None else None

    @model_validator(mode="after")
    def _something(self) -> NotifyRequest:
        if self.task is None and self.url is None:
            raise ValueError("give a task name, a url, or both")
        return self


def check(notify: Any, settings: Settings) -> dict[str, Any] | None:
    """``notify`` checked and normalised for storage; :class:`InvalidPayload` naming the field."""
    if notify is None:
        return None
    if not isinstance(notify, dict):
        raise InvalidPayload("notify", 'must be an object like {"task": "shop.job_finished"} or {"url": "https://…"}')
    try:
        request = NotifyRequest.model_validate(notify)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        raise InvalidPayload(field_path(("notify", *first["loc"])), first["msg"].removeprefix("Value error, ")) from None
    if request.url is not None and getattr(settings.provider("webhook"), "secret", None) is None:
        raise InvalidPayload("notify.url", "needs PRINTRELAY_WEBHOOK__SECRET: printrelay signs every notification it POSTs")
    return request.model_dump(exclude_none=True)


class TaskSender(Protocol):
    """Sends a producer's task with the job's JSON; Celery in production (``worker.runtime``)."""

    def send_notification(self, task: str, job: dict[str, Any], queue: str) -> None: ...


class Notifier:
    def __init__(self, store: Store, intake: Intake, sender: TaskSender, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.store, self.intake, self.sender, self.clock = store, intake, sender, clock

    def announce(self, job_id: str) -> bool:
        """Announce ``job_id``'s end if it has one not yet announced; whether it did.

        Raises if sending failed: the job stays due and the sweep tries again.
        """
        with self.store.transaction() as session:
            job = session.get(Job, job_id)
            if job is None or not job.notify_due or job.notify is None or job.state not in {s.value for s in FINISHED}:
                return False
            notify, ended_at = dict(job.notify), job.updated_at
            info = JobInfo.load(session, job_id)
        assert info is not None
        body = info.to_dict()
        if url := notify.get("url"):
            self.intake.enqueue(
                "notify",
                "webhook",
                {"url": url, "body": json.dumps(body, separators=(",", ":")), "job_id": job_id},
                idempotency_key=f"{job_id}@{iso(ended_at)}",
                internal=True,
            )
        if task := notify.get("task"):
            self.sender.send_notification(task, body, notify.get("queue", "celery"))
        with self.store.transaction() as session:
            session.execute(
                update(Job)
                .where(Job.id == job_id, Job.notify_due.is_(True), Job.updated_at == ended_at)
                .values(notify_due=False, notified_at=self.clock())
            )
        log.info("job %s: announced its end (%s)", job_id, info.state)
        return True

    def sweep(self, *, grace: float = SWEEP_GRACE, limit: int = 500) -> int:
        """Announce every end older than ``grace`` seconds that is still due; how many."""
        cutoff = self.clock() - timedelta(seconds=grace)
        with self.store.transaction() as session:
            due = list(
                session.execute(
                    select(Job.id)
                    .where(Job.notify_due.is_(True), Job.state.in_([s.value for s in FINISHED]), Job.updated_at <= cutoff)
                    .order_by(Job.updated_at)
                    .limit(limit)
                ).scalars()
            )
        announced = 0
        for job_id in due:
            try:
                announced += self.announce(job_id)
            except Exception:
                log.exception("job %s: announcing its end failed; the next sweep tries again", job_id)
        return announced
