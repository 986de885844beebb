"""Engines and sessions for the job store, tuned per database.

SQLite runs in WAL mode, and every transaction starts with ``BEGIN IMMEDIATE``: pysqlite's
default deferred transactions take the write lock only at the first write, and in WAL mode a
reader that then writes after another writer committed fails at once with "database is
locked" instead of waiting. Taking the write lock up front avoids that. (The recipe is from
SQLAlchemy's SQLite dialect documentation.)

Waiting for the write lock is ours, not SQLite's: its busy handler backs off in sleeps of up
to 100 ms, which with 16 worker threads and a producer measured 75 enqueues/s per thread
instead of 857. Threads of one process queue on a lock (they would only collide otherwise);
processes poll ``BEGIN IMMEDIATE`` every 0-2 ms, for up to :data:`SQLITE_LOCK_WAIT` seconds.

Transactions do not nest: a thread must not open one while it holds another.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_LOCK_WAIT = 30.0
_process_locks: dict[str, threading.Lock] = {}
_process_locks_guard = threading.Lock()


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=20, max_overflow=20)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 0.002, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        deadline = time.monotonic() + SQLITE_LOCK_WAIT
        while True:
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except OperationalError as exc:
                if "locked" not in str(exc.orig) or time.monotonic() > deadline:
                    raise
                time.sleep(random.uniform(0, 0.002))

    return engine


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (``printrelay db upgrade``)."""
    cfg = alembic_config()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


class Store:
    """One database: its engine and a session factory. Sessions never expire loaded rows on
    commit, so values read in a transaction stay usable after it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._writer: AbstractContextManager[Any] = nullcontext()
        if self.engine.dialect.name == "sqlite":
            with _process_locks_guard:
                self._writer = _process_locks.setdefault(str(self.engine.url), threading.Lock())

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error."""
        with self._writer, self._sessions.begin() as session:
            yield session

    def upgrade(self) -> None:
        upgrade(self.engine)

    def is_initialised(self) -> bool:
        return inspect(self.engine).has_table("jobs")

    def dispose(self) -> None:
        self.engine.dispose()
