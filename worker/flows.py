"""Enqueueing a whole fulfilment at once: the uploads and the order that uses them.

>>> order, uploads = enqueue_with_images(
...     "submit_order", "printeers",
...     {"order": {…, "orderlines": [{"productReference": …, "imageReference": {"$image": "front"}, "quantity": 1}]}},
...     images={"front": "/srv/designs/front.png"})                                   # doctest: +SKIP

Each ``{"$image": NAME}`` becomes a reference to the upload job of that image; the order stays
``blocked`` until every upload succeeded (and fails with ``dependency_failed`` if one fails).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from worker import notify as notifications
from worker.errors import InvalidPayload
from worker.intake import Intake
from worker.jobview import JobInfo


def enqueue_with_images(
    intake: Intake,
    kind: str,
    provider: str,
    payload: Any,
    images: Mapping[str, str],
    *,
    account: str = "default",
    idempotency_key: str | None = None,
    notify: dict[str, str] | None = None,
) -> tuple[JobInfo, dict[str, JobInfo]]:
    """Upload ``images`` (name -> path or URL) and enqueue ``kind`` with ``{"$image": NAME}`` resolved.
    ``notify`` is for the last job (``kind``): it ends after, or because of, the uploads."""
    used = set(_image_names(payload))
    if missing := sorted(used - set(images)):
        raise InvalidPayload("payload", f'"$image": {missing[0]!r} is not among the images given')
    if unused := sorted(set(images) - used):
        raise InvalidPayload("images", f"{unused[0]!r} is not used by the payload")
    # validate the order before uploading anything
    intake.check(kind, provider, _with_references(payload, dict.fromkeys(images, "validation")), account)
    notifications.check(notify, intake.settings)
    uploads = {
        name: intake.enqueue(
            "upload_image",
            provider,
            {"source": source},
            account=account,
            idempotency_key=f"{idempotency_key}:image:{name}" if idempotency_key else None,
        )
        for name, source in images.items()
    }
    job = intake.enqueue(
        kind,
        provider,
        _with_references(payload, {n: j.id for n, j in uploads.items()}),
        account=account,
        idempotency_key=idempotency_key,
        notify=notify,
    )
    return job, uploads


def enqueue_printapi_order_with_files(
    intake: Intake,
    order: dict[str, Any],
    files: Mapping[int, str],
    *,
    account: str = "default",
    idempotency_key: str | None = None,
    notify: dict[str, str] | None = None,
) -> tuple[JobInfo, list[JobInfo], JobInfo]:
    """Print API's flow: the order first; then each item's file to its upload URL; then polling
    until every file is accepted. ``files`` maps an item's index in ``order["items"]`` to a path.
    ``notify`` is for the poll, the job that ends last."""
    notifications.check(notify, intake.settings)
    submit = intake.enqueue("submit_order", "printapi", order, account=account, idempotency_key=idempotency_key)
    uploads = [
        intake.enqueue(
            "upload_image",
            "printapi",
            {
                "source": source,
                "file": "content",
                "order_id": {"$job": submit.id, "path": "order_id"},
                "item_id": {"$job": submit.id, "path": f"items.{index}.id"},
                "upload_url": {"$job": submit.id, "path": f"items.{index}.files.content.uploadUrl"},
            },
            account=account,
            idempotency_key=f"{idempotency_key}:file:{index}" if idempotency_key else None,
        )
        for index, source in sorted(files.items())
    ]
    poll = intake.enqueue(
        "poll_print_file",
        "printapi",
        {"order_id": {"$job": submit.id, "path": "order_id"}},
        account=account,
        idempotency_key=f"{idempotency_key}:poll" if idempotency_key else None,
        notify=notify,
    )
    return submit, uploads, poll


def _image_names(value: Any) -> list[str]:
    if isinstance(value, dict):
        if "$image" in value:
            return [str(value["$image"])]
        return [n for item in value.values() for n in _image_names(item)]
    if isinstance(value, list):
        return [n for item in value for n in _image_names(item)]
    return []


def _with_references(value: Any, jobs: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        if "$image" in value:
            return {"$job": jobs[str(value["$image"])], "path": "image_reference"}
        return {k: _with_references(v, jobs) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_references(v, jobs) for v in value]
    return value
