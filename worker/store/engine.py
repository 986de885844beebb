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

The worker's hot path (a claim, an attempt's record: :mod:`worker.statements`) runs single
statements without a transaction around them (:meth:`Store.statement`): on PostgreSQL one round
trip instead of four (no pool pre-ping, no BEGIN, no COMMIT; a stale pooled connection fails and
is retried by the caller, :mod:`worker.store.reachability`), on SQLite one call under the
process's lock instead of three. Measured with 16 threads, a SQLite transaction held that lock
1.5 ms (most of it waiting for the GIL between calls): the lock, not the database, was the limit.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Executable, Row, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from worker.errors import DatabaseMissing

if TYPE_CHECKING:
    from alembic.config import Config

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


def make_engine(url: str, *, may_create: Callable[[], bool] = lambda: True, pool_size: int = 20) -> Engine:
    """An engine for ``url``. A SQLite file is created only while ``may_create()`` is true:
    otherwise its first connection raises :class:`~worker.errors.DatabaseMissing`."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size)
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
        if conn.get_execution_options().get(AUTOCOMMIT):
            return  # one statement, committed by itself (Store.statement)
        _while_locked(lambda: conn.exec_driver_sql("BEGIN IMMEDIATE"))

    return engine


#: The execution option of the hot path's single statements on SQLite: no BEGIN IMMEDIATE.
AUTOCOMMIT = "printrelay_autocommit"


def _while_locked(run: Callable[[], Any]) -> Any:
    """Run ``run``, again every 0-2 ms while another process holds SQLite's write lock."""
    deadline = time.monotonic() + SQLITE_LOCK_WAIT
    while True:
        try:
            return run()
        except OperationalError as exc:
            if "locked" not in str(exc.orig) or time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0, 0.002))


def make_hot_engine(engine: Engine, url: str, pool_size: int) -> Engine:
    """The engine of the hot path's single statements: on PostgreSQL its own pool of autocommit
    connections without pre-ping; on SQLite the same pool, marked to skip BEGIN IMMEDIATE."""
    if engine.dialect.name == "sqlite":
        return engine.execution_options(**{AUTOCOMMIT: True})
    return create_engine(url, isolation_level="AUTOCOMMIT", pool_size=pool_size, max_overflow=pool_size)


def alembic_config() -> Config:
    from alembic.config import Config  # only migrations need Alembic: the CLI starts faster without it

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (``printrelay db upgrade``).

    Warning: on SQLite, Alembic's batch mode rebuilds a table to change it (copy, drop, rename);
    with foreign keys on, dropping ``jobs`` would cascade to every attempt, event and reference.
    So the migration's connection runs with ``PRAGMA foreign_keys=OFF`` (it must be set outside
    a transaction), and gets them back before it returns to the pool.
    """
    from alembic import command

    cfg = alembic_config()
    with engine.connect() as connection:
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with connection.begin():
                cfg.attributes["connection"] = connection
                command.upgrade(cfg, revision)
        finally:
            if sqlite:
                connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


class Store:
    """One database: its engine and a session factory. Sessions never expire loaded rows on
    commit, so values read in a transaction stay usable after it."""

    def __init__(self, url: str, *, create: bool = False, pool_size: int = 20) -> None:
        """``create``: make a missing SQLite file on first use. Without it (the default) only
        :meth:`upgrade` creates one; anything else finds no database and says where it looked.
        ``pool_size``: connections kept per pool (a worker: its concurrency and a few more)."""
        self.url = url
        self._create = create
        self.engine = make_engine(url, may_create=lambda: self._create, pool_size=pool_size)
        #: the hot path's single statements (:meth:`statement`); connects only when first used
        self._hot = make_hot_engine(self.engine, url, pool_size)
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

    def statement(self, statement: Executable, params: Mapping[str, Any]) -> list[Row[Any]]:
        """One statement, committed by itself (atomic as any single statement is), its rows."""
        hot = self._hot

        def run() -> list[Row[Any]]:
            with hot.connect() as connection:
                result = connection.execute(statement, params)
                return list(result.all()) if result.returns_rows else []

        with self._writer:
            return _while_locked(run) if self.engine.dialect.name == "sqlite" else run()

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A Core connection in one transaction, for the worker's hot path (no ORM session):
        committed on success, rolled back on any error. Same rules as :meth:`transaction`."""
        with self._writer, self.engine.begin() as connection:
            yield connection

    def upgrade(self) -> None:
        """Create or migrate the tables (and, for SQLite, the file)."""
        self._create = True
        upgrade(self.engine)

    def is_initialised(self) -> bool:
        return inspect(self.engine).has_table("jobs")

    def dispose(self) -> None:
        self.engine.dispose()
        if self.engine.dialect.name != "sqlite":  # SQLite's shares the engine's pool
            self._hot.dispose()
