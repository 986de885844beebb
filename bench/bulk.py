"""Producing in bulk: ``worker.enqueue_many`` beside Celery's ``apply_async`` of the same number of
messages, one run side by side.

    python -m bench.bulk [--jobs 5000] [--rounds 3]

``apply_async``: a bare Celery task (``bench.peer.call``) sent ``--jobs`` times in a loop, the way a
producer without printrelay queues work — nothing checked, nothing recorded. ``enqueue_many``: as
many Printeers ``track_order`` payloads, each checked against its rules, recorded in one
transaction (SQLite, then PostgreSQL) and published pipelined. Printed: messages a second, medians
of ``--rounds``, and the ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable

from bench import harness

QUEUE = "bench.bulk"


def timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rates: dict[str, list[float]] = {"apply_async": [], "enqueue_many (SQLite)": [], "enqueue_many (PostgreSQL)": []}
    payloads = [{"order_reference": f"Order_bulk{n:06d}"} for n in range(args.jobs)]
    with harness.redis_url() as redis_url, harness.postgres_database() as postgres:
        os.environ["PRINTRELAY_REDIS_URL"] = redis_url
        from bench.peer_app import app, call

        for _ in range(args.rounds):
            seconds = timed(
                lambda: [call.apply_async(args=["GET", "http://127.0.0.1:9/x", "k", None], queue=QUEUE) for _ in range(args.jobs)]
            )
            rates["apply_async"].append(args.jobs / seconds)
            for name, database in (
                ("enqueue_many (SQLite)", f"sqlite:///{tempfile.mkdtemp(prefix='printrelay-bench-')}/bulk.db"),
                ("enqueue_many (PostgreSQL)", postgres),
            ):
                runtime = harness.local_runtime(
                    {"PRINTRELAY_REDIS_URL": redis_url, "PRINTRELAY_DATABASE_URL": database, "PRINTRELAY_PRINTEERS__SECRET_KEY": "sk_bench"}
                )
                seconds = timed(lambda runtime=runtime: runtime.intake.enqueue_many("track_order", "printeers", payloads))  # type: ignore[misc]
                rates[name].append(args.jobs / seconds)
                runtime.close()
            app.connection_for_write().default_channel.client.flushdb()  # nobody consumes these
    peer = statistics.median(rates["apply_async"])
    print(f"\n{args.jobs} messages a run; medians of {args.rounds}")
    for name, values in rates.items():
        median = statistics.median(values)
        print(f"{name:28}{median:>10.0f} /s{median / peer:>8.2f} x apply_async")


if __name__ == "__main__":
    main()
