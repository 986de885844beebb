"""printrelay's engine and its producer API.

>>> import worker
>>> job = worker.enqueue("upload_image", "printeers", {"source": "design.png"})   # doctest: +SKIP
>>> worker.wait_for(job.id).result                                                # doctest: +SKIP
{'image_reference': 'Image_…'}

``enqueue`` validates the payload before anything is stored (a bad one raises
:class:`InvalidPayload` naming the field), records the job, then publishes it to Celery.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from worker.errors import (
    InvalidPayload,
    JobNotFound,
    NotConfigured,
    PrintrelayError,
    UnknownAccount,
    UnknownProvider,
    UnsupportedKind,
)
from worker.states import JobState, OutcomeKind

if TYPE_CHECKING:
    from worker.jobview import AttemptInfo, JobInfo
    from worker.queries import get_job, list_jobs, wait_for

#: Names imported when first used: importing ``worker`` (or ``worker.adapters``) stays cheap and
#: does not pull in the database, Celery or the settings.
_LAZY = {
    "AttemptInfo": "worker.jobview",
    "JobInfo": "worker.jobview",
    "get_job": "worker.queries",
    "list_jobs": "worker.queries",
    "wait_for": "worker.queries",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'worker' has no attribute {name!r}")


def enqueue(
    kind: str,
    provider: str,
    payload: Any,
    *,
    account: str = "default",
    idempotency_key: str | None = None,
    notify: dict[str, str] | None = None,
) -> JobInfo:
    """Record a job and queue it. The same idempotency key (per kind, provider and account)
    returns the job made the first time and creates nothing.

    ``notify={"task": NAME, "queue": Q}`` and/or ``{"url": URL}``: tell the producer how the job
    ended (:mod:`worker.notify`; at least once)."""
    from worker.runtime import get_runtime

    return get_runtime().intake.enqueue(kind, provider, payload, account=account, idempotency_key=idempotency_key, notify=notify)


def enqueue_many(
    kind: str,
    provider: str,
    payloads: Iterable[Any],
    *,
    account: str = "default",
    idempotency_keys: Iterable[str | None] | None = None,
    notify: dict[str, str] | None = None,
) -> list[JobInfo]:
    """Record many jobs of one kind and provider in one transaction and publish them pipelined;
    the jobs in the order of ``payloads``. Every payload is checked first: a refused one raises
    :class:`InvalidPayload` naming its index (``payloads[3].order.…``) and nothing is stored. A
    key seen before returns its existing job, as :func:`enqueue` does.

    >>> jobs = worker.enqueue_many("track_order", "printeers", [{"order_reference": r} for r in refs])  # doctest: +SKIP
    """
    from worker.runtime import get_runtime

    return get_runtime().intake.enqueue_many(kind, provider, payloads, account=account, idempotency_keys=idempotency_keys, notify=notify)


__all__ = [
    "AttemptInfo",
    "InvalidPayload",
    "JobInfo",
    "JobNotFound",
    "JobState",
    "NotConfigured",
    "OutcomeKind",
    "PrintrelayError",
    "UnknownAccount",
    "UnknownProvider",
    "UnsupportedKind",
    "enqueue",
    "enqueue_many",
    "get_job",
    "list_jobs",
    "wait_for",
]
