"""The references a person quotes about a job, so that any of them finds it.

A support person asked "where is order 1001 of the Amsterdam shop?" holds the shop's own order id,
or the provider's ``Order_…`` from an e-mail, or a Print API id. Each adapter names where those
live in its payloads and results (``payload_references``, ``result_references``); they are kept
in ``job_references`` — from the payload at enqueue, from the result when the job succeeds — folded
to lower case, and ``printrelay jobs find`` / the console's search match them exactly.

    >>> sorted(values({"order": {"customIdentifier": "Shop-1001"}, "n": 3}, ("order.customIdentifier", "n")))
    ['3', 'shop-1001']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from worker.adapters.base import Adapter
from worker.payload_paths import values_at
from worker.store import JobReference
from worker.store.upsert import insert_or_ignore

#: Longer values are not references anyone types (and do not fit the column).
MAX_LENGTH = 255


def fold(text: str) -> str:
    """How a reference is kept and looked up: trimmed, lower case."""
    return text.strip().lower()


def values(data: Any, paths: Iterable[str]) -> set[str]:
    """The references at ``paths`` in ``data``: strings and integers (not booleans), folded."""
    found = set()
    for path in paths:
        for value in values_at(data, path):
            if isinstance(value, bool) or not isinstance(value, str | int):
                continue  # a placeholder ({"$job": …}), an object, a flag
            text = fold(str(value))
            if text and len(text) <= MAX_LENGTH:
                found.add(text)
    return found


def of_payload(adapter: Adapter[Any], payload: Any) -> set[str]:
    return values(payload, adapter.payload_references)


def of_result(adapter: Adapter[Any], result: Any) -> set[str]:
    return values(result, adapter.result_references)


def add(session: Session | Connection, job_id: str, found: set[str], source: str) -> None:
    """Keep ``found`` for ``job_id``; a value the job has already (a replay's result, a payload
    id the result repeats) is left as it is."""
    add_many(session, {job_id: found}, source)


def add_many(session: Session | Connection, found: Mapping[str, set[str]], source: str) -> None:
    """:func:`add` for many jobs at once (a batch of ``enqueue_many``): one statement."""
    rows = [{"job_id": job_id, "value": value, "source": source} for job_id, values in found.items() for value in sorted(values)]
    insert_or_ignore(session, JobReference, rows)
