"""``INSERT … ON CONFLICT``, the same on SQLite and PostgreSQL: for rows that two workers may write
at once (an image's memo after two identical uploads, a job's references after a replay), where
a read-then-insert would lose the race with an IntegrityError."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from worker.store.models import Base


def _insert(session: Session | Connection, model: type[Base]) -> Any:
    dialect = (session.dialect if isinstance(session, Connection) else session.get_bind().dialect).name
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise NotImplementedError(f"printrelay runs on SQLite and PostgreSQL, not {dialect}")


def insert_or_ignore(session: Session | Connection, model: type[Base], rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows``; one whose key is there already is left as it is."""
    if rows:  # one statement, executed for every row (compiled once, whatever the number of rows)
        session.execute(_insert(session, model).on_conflict_do_nothing(), list(rows))


def insert_or_update(
    session: Session | Connection, model: type[Base], row: dict[str, Any], *, key: Sequence[str], update: Sequence[str]
) -> None:
    """Insert ``row``, or set its ``update`` columns where a row with the same ``key`` is there."""
    statement = _insert(session, model).values(row)
    session.execute(statement.on_conflict_do_update(index_elements=list(key), set_={c: statement.excluded[c] for c in update}))
