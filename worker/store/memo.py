"""The adapters' :class:`~worker.adapters.base.Memo`, kept in the ``memos`` table.

A memo is a fact about one (provider, account) that outlives a job: an image's reference by
content hash, a provider's catalogue. The runner hands one to each attempt; intake hands one to
the enqueue-time rules (read only there: enqueue never calls a provider).
"""

from __future__ import annotations

from typing import Any

from worker.store.engine import Store
from worker.store.models import Memo
from worker.store.types import utcnow
from worker.store.upsert import insert_or_update


class StoreMemo:
    def __init__(self, store: Store, provider: str, account: str) -> None:
        self.store, self.provider, self.account = store, provider, account

    def get(self, key: str) -> dict[str, Any] | None:
        with self.store.transaction() as session:
            memo = session.get(Memo, (self.provider, self.account, key))
            return dict(memo.value) if memo is not None else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        """Keep ``value`` (the last writer wins: two workers that uploaded the same image at once
        both learned a valid reference)."""
        row = {"provider": self.provider, "account": self.account, "key": key, "value": value, "created_at": utcnow()}
        with self.store.transaction() as session:
            insert_or_update(session, Memo, row, key=("provider", "account", "key"), update=("value", "created_at"))
