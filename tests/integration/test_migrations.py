"""Migrations keep what is in the database.

SQLite changes some columns by rebuilding the table (Alembic's batch mode: copy, drop, rename).
With foreign keys on, dropping the old ``jobs`` cascaded to every attempt: migrations 0002, 0005,
0007 and 0010 did exactly that until the migration connection turned foreign keys off
(``worker.store.engine.upgrade``). This walks every revision with a job and its history in it.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic.script import ScriptDirectory

from worker.store import Store
from worker.store.engine import alembic_config, upgrade

JOB_ID = "00000000-0000-0000-0000-000000000001"
OTHER_ID = "00000000-0000-0000-0000-000000000002"
AT = datetime(2026, 1, 1)


def _revisions() -> list[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def test_every_migration_keeps_the_attempts_of_existing_jobs(database_url: str, empty_store: Store) -> None:
    revisions = _revisions()
    assert revisions[0] == "0001" and len(revisions) >= 10
    store = empty_store
    upgrade(store.engine, revisions[0])
    jobs = sa.table(
        "jobs",
        *(sa.column(name) for name in ("id", "kind", "provider", "account", "state", "attempt_count", "budget_used", "reconcile")),
        sa.column("created_at", sa.DateTime),
        sa.column("updated_at", sa.DateTime),
        sa.column("payload", sa.JSON),
    )
    attempts = sa.table(
        "attempts",
        *(sa.column(name) for name in ("job_id", "number", "outcome")),
        sa.column("started_at", sa.DateTime),
        sa.column("finished_at", sa.DateTime),
    )
    common = {"kind": "track_order", "provider": "printeers", "account": "default", "budget_used": 0, "reconcile": False}
    with store.engine.begin() as connection:
        connection.execute(
            sa.insert(jobs),
            [
                {**common, "id": JOB_ID, "state": "succeeded", "attempt_count": 2, "created_at": AT, "updated_at": AT, "payload": {}},
                {**common, "id": OTHER_ID, "state": "queued", "attempt_count": 0, "created_at": AT, "updated_at": AT, "payload": {}},
            ],
        )
        connection.execute(
            sa.insert(attempts),
            [
                {"job_id": JOB_ID, "number": 1, "outcome": "transient", "started_at": AT, "finished_at": AT},
                {"job_id": JOB_ID, "number": 2, "outcome": "done", "started_at": AT, "finished_at": AT},
            ],
        )
    kept = []
    for revision in revisions[1:]:
        upgrade(store.engine, revision)
        with store.engine.connect() as connection:
            counts = (
                connection.execute(sa.text("SELECT count(*) FROM jobs")).scalar_one(),
                connection.execute(sa.text("SELECT count(*) FROM attempts")).scalar_one(),
            )
        kept.append((revision, *counts))
    assert kept == [(revision, 2, 2) for revision in revisions[1:]]
    if database_url.startswith("sqlite"):  # and the pool's connections have their foreign keys back
        with store.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
