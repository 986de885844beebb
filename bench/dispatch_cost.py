"""What one ``dispatch_due`` tick costs with 100 000 waiting jobs of which 100 are due.

    python -m bench.dispatch_cost [--waiting 100000] [--due 100] [--database URL …]

The tick should cost O(due jobs), not O(all jobs): it reads the ``(state, next_attempt_at)``
index. Publishing is left out (a no-op publisher) so the figure is the database's; each
tick is repeated with the same 100 jobs made due again, and the median reported, beside a
tick with nothing due and the same tick on an empty table.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, update

from config.settings import Settings
from worker import maintenance
from worker.runtime import reset_runtime
from worker.store import Job
from worker.store.types import utcnow


class NoPublish:
    def publish(self, *args: Any, **kwargs: Any) -> None:
        pass


def measure(database: str, waiting: int, due: int, rounds: int) -> dict[str, float]:
    runtime = reset_runtime(Settings(_env_file=None, database_url=database, redis_url="redis://127.0.0.1:1/0"), NoPublish())  # type: ignore[call-arg]
    runtime.store.upgrade()
    now = utcnow()
    base = {
        "kind": "track_order",
        "provider": "printeers",
        "account": "default",
        "payload": {"order_reference": "x"},
        "attempt_count": 1,
        "budget_used": 0,
        "reconcile": False,
        "created_at": now,
        "updated_at": now,
    }
    due_ids = [str(uuid.uuid4()) for _ in range(due)]

    def tick() -> float:
        start = time.perf_counter()
        maintenance.dispatch_due(runtime)
        return time.perf_counter() - start

    empty = statistics.median(tick() for _ in range(rounds))
    with runtime.store.transaction() as session:
        for offset in range(0, waiting, 10000):
            rows = [
                {**base, "id": str(uuid.uuid4()), "state": "waiting", "next_attempt_at": now + timedelta(hours=1, seconds=i)}
                for i in range(offset, min(offset + 10000, waiting))
            ]
            session.execute(insert(Job), rows)
        session.execute(
            insert(Job), [{**base, "id": i, "state": "waiting", "next_attempt_at": now - timedelta(seconds=1)} for i in due_ids]
        )
    with runtime.store.engine.connect() as conn:
        if runtime.store.engine.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE jobs")
        else:
            conn.exec_driver_sql("ANALYZE")
        conn.commit()
    ticks, idle = [], []
    for _ in range(rounds):
        with runtime.store.transaction() as session:
            session.execute(update(Job).where(Job.id.in_(due_ids)).values(state="waiting", next_attempt_at=utcnow() - timedelta(seconds=1)))
        ticks.append(tick())
        idle.append(tick())
    runtime.close()
    return {"due_tick": statistics.median(ticks), "idle_tick": statistics.median(idle), "empty_table_tick": empty}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--waiting", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--database", action="append", help="repeatable; default: SQLite in a temporary folder")
    args = parser.parse_args()
    databases = args.database or [f"sqlite:///{tempfile.mkdtemp(prefix='printrelay-bench-')}/dispatch.db"]
    print(f"dispatch_due: {args.waiting} waiting jobs, {args.due} due; median of {args.rounds} ticks")
    for database in databases:
        figures = measure(database, args.waiting, args.due, args.rounds)
        name = database.split("://")[0]
        print(
            f"{name:24} tick with {args.due} due: {figures['due_tick'] * 1000:7.2f} ms   "
            f"tick with none due: {figures['idle_tick'] * 1000:6.2f} ms   same tick, empty table: {figures['empty_table_tick'] * 1000:6.2f} ms"
        )


if __name__ == "__main__":
    main()
