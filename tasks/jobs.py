"""``printrelay.<kind>``: one task per job kind.

Called by printrelay with ``job_id=…`` (the only argument, so no payload, address or secret is
ever in a message, a log line or Flower), or by a producer that has only Celery with
``provider=…, payload=…`` (``send_task`` intake, optionally with ``notify``): the job is then recorded first, exactly as
``enqueue`` would, with the message's id as the idempotency key unless one is given, so a
redelivered intake message does not make a second job.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from sqlalchemy.exc import OperationalError

from worker.app import app
from worker.errors import DatabaseUnavailable, PrintrelayError
from worker.runtime import get_runtime
from worker.states import INTERNAL_KINDS, JOB_KINDS

log = logging.getLogger("printrelay.tasks")


def _job_task(kind: str) -> Task:  # type: ignore[type-arg]
    @app.task(
        name=f"printrelay.{kind}",
        bind=True,
        acks_late=True,
        # The database is briefly unreachable: try again. The claim makes repeats harmless.
        autoretry_for=(OperationalError, DatabaseUnavailable),
        retry_backoff=True,
        retry_backoff_max=60,
        max_retries=10,
    )
    def run(
        self: Task,  # type: ignore[type-arg]
        job_id: str | None = None,
        provider: str | None = None,
        payload: Any = None,
        account: str = "default",
        idempotency_key: str | None = None,
        notify: Any = None,
    ) -> dict[str, str] | None:
        runtime = get_runtime()
        if job_id is None:
            if provider is None:
                raise PrintrelayError(f"printrelay.{kind} needs job_id, or provider and payload", code="invalid_payload")
            key = idempotency_key or f"celery:{self.request.id}"
            job = runtime.intake.enqueue(kind, provider, payload, account=account, idempotency_key=key, notify=notify)
            log.info("recorded job %s from a %s message", job.id, kind)
            return {"job_id": job.id, "state": job.state}
        state = runtime.runner.run(job_id)
        return {"job_id": job_id, "state": state.value} if state is not None else None

    run.__doc__ = f"Run one attempt of a {kind} job (or record one from a producer's payload)."
    return run


tasks = {kind: _job_task(kind) for kind in (*JOB_KINDS, *INTERNAL_KINDS)}
