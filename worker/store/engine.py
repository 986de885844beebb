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
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from worker.errors import DatabaseMissing

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_LOCK_WAIT = 30.0
_process_locks: dict[str, threading.Lock] = {}
_process_locks_guard = threading.Lock()


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (``None`` for other databases and in-memory SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def missing_database_message(url: str) -> str:
    """Where printrelay looked for a SQLite database that is not there, and what to do."""
    path = sqlite_file(url) or Path(url)
    where = f"{path.resolve()}" + ("" if path.is_absolute() else f" (relative to the working directory {Path.cwd()})")
    return (
        f"no printrelay database at {where}; PRINTRELAY_DATABASE_URL is {url!r}. "
        "Point PRINTRELAY_DATABASE_URL (or a .env file here) at your database, "
        "or create a new one there with `printrelay db upgrade`"
    )


def make_engine(url: str, *, may_create: Callable[[], bool] = lambda: True) -> Engine:
    """An engine for ``url``. A SQLite file is created only while ``may_create()`` is true:
    otherwise its first connection raises :class:`~worker.errors.DatabaseMissing`."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=20, max_overflow=20)
    engine = create_engine(url, connect_args={"timeout": 0.002, "check_same_thread": False})
    path = sqlite_file(url)

    @event.listens_for(engine, "do_connect")
    def _only_where_asked(dialect: Any, record: Any, cargs: Any, cparams: Any) -> None:
        if path is None or path.exists():
            return
        if not may_create():
            raise DatabaseMissing(missing_database_message(url))
        path.parent.mkdir(parents=True, exist_ok=True)

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

    def __init__(self, url: str, *, create: bool = False) -> None:
        """``create``: make a missing SQLite file on first use. Without it (the default) only
        :meth:`upgrade` creates one; anything else finds no database and says where it looked."""
        self.url = url
        self._create = create
        self.engine = make_engine(url, may_create=lambda: self._create)
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
        """Create or migrate the tables (and, for SQLite, the file)."""
        self._create = True
        upgrade(self.engine)

    def is_initialised(self) -> bool:
        return inspect(self.engine).has_table("jobs")

    def dispose(self) -> None:
        self.engine.dispose()
