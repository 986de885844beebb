"""Naming places in a payload or a result: ``order.customIdentifier``, ``items[].ecommerce_order_item_id``,
``item_uids.*``.

Adapters name the fields that matter beyond the call itself with these paths — the references a
person quotes (:mod:`worker.references`) and the customer data that is masked and, in time,
scrubbed (:mod:`worker.privacy`) — so the rest of printrelay can find them without knowing any
provider's payload.

A path is dot-separated keys; ``name[]`` steps into every element of a list, ``*`` into every
value of an object; the empty path is the whole value. A place that is not there is simply skipped.

    >>> list(values_at({"items": [{"id": "a"}, {"id": "b"}, {}]}, "items[].id"))
    ['a', 'b']
    >>> replace_at({"customer": {"name": "Jo", "email": "jo@example.com"}}, "customer", lambda v: "…")
    {'customer': {'name': '…', 'email': '…'}}
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any


def _steps(path: str) -> list[str]:
    if not path:
        return []  # the whole value
    steps: list[str] = []
    for part in path.split("."):
        if part.endswith("[]"):
            steps += [part[:-2], "[]"] if part[:-2] else ["[]"]
        else:
            steps.append(part)
    return steps


def values_at(data: Any, path: str) -> Iterator[Any]:
    """Every value at ``path`` (none if the path is not there)."""
    yield from _walk(data, _steps(path))


def _walk(data: Any, steps: list[str]) -> Iterator[Any]:
    if not steps:
        yield data
        return
    step, rest = steps[0], steps[1:]
    if step == "[]":
        if isinstance(data, list):
            for item in data:
                yield from _walk(item, rest)
    elif step == "*":
        if isinstance(data, dict):
            for item in data.values():
                yield from _walk(item, rest)
    elif isinstance(data, dict) and step in data:
        yield from _walk(data[step], rest)


def replace_at(data: Any, path: str, replace: Callable[[Any], Any]) -> Any:
    """A copy of ``data`` with every leaf (a string, number or boolean) at or under ``path``
    replaced by ``replace(leaf)``; ``None`` stays ``None``, and the shape stays as it was, so a
    reader still sees which fields there were."""
    return _replace(data, _steps(path), replace)


def _replace(data: Any, steps: list[str], replace: Callable[[Any], Any]) -> Any:
    if not steps:
        return _leaves(data, replace)
    step, rest = steps[0], steps[1:]
    if step == "[]":
        return [_replace(item, rest, replace) for item in data] if isinstance(data, list) else data
    if step == "*":
        return {k: _replace(v, rest, replace) for k, v in data.items()} if isinstance(data, dict) else data
    if isinstance(data, dict) and step in data:
        return {**data, step: _replace(data[step], rest, replace)}
    return data


def _leaves(data: Any, replace: Callable[[Any], Any]) -> Any:
    if isinstance(data, dict):
        return {k: _leaves(v, replace) for k, v in data.items()}
    if isinstance(data, list):
        return [_leaves(v, replace) for v in data]
    return data if data is None else replace(data)
