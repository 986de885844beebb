"""Test doubles for the one edge the adapters' unit tests stub out besides HTTP: the memo."""

from __future__ import annotations

from typing import Any


class DictMemo:
    """An adapter's :class:`~worker.adapters.base.Memo`, in a dict."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, Any]] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        return self.data.get(key)

    def put(self, key: str, value: dict[str, Any]) -> None:
        self.data[key] = value
