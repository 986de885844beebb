"""More worker processes on one PostgreSQL: jobs per second with 1, 2 and 4, and whether any job was
called twice.

    python -m bench.scale [--jobs 2000] [--workers 1,2,4] [--concurrency 8]

Each run: a fresh PostgreSQL database, ``--jobs`` Printeers order submits queued at once, then N
``celery worker`` processes (threads pool) started together. Printed per N: jobs per second
(first attempt's start to last attempt's end), attempts per job, and orders the sandbox received
beyond one per job (a job called twice would show here).

Read the figures knowing the machine: with 2 cores, four processes compete for them with the
sandbox, Redis and PostgreSQL on the same cores, so they show that more processes stay correct
and share the work, not how far a fleet of machines scales.
"""

from __future__ import annotations

import argparse
import time
from contextlib import ExitStack
from typing import Any

import httpx

from bench import harness
from bench.jobpath import order_body, prepare

QUEUES = "printrelay,printrelay.printeers"


def run(redis_url: str, sandbox: str, *, workers: int, jobs: int, concurrency: int) -> dict[str, Any]:
    key = f"sk_bench_scale_{workers}_{int(time.time())}"
    with harness.postgres_database() as database:
        env = harness.printeers_env(
            redis_url,
            sandbox,
            key,
            database=database,
            PRINTEERS__RATE_LIMITS="default=10000000/60,uploads=10000000/60",
            WORKER_CONCURRENCY=str(concurrency),
        )
        runtime = harness.local_runtime(env)
        from sqlalchemy import func, select

        from worker.store import Attempt, Job

        headers = {"X-Printeers-Secret-Key": key}
        png = httpx.get(f"{sandbox}/_sandbox/files/sample.png").content
        image = httpx.post(f"{sandbox}/printeers/v2/images", content=png, headers=headers).json()["image"]["reference"]
        ids = [job.id for job in runtime.intake.enqueue_many("submit_order", "printeers", [order_body(image)] * jobs)]
        with ExitStack() as stack:
            for _ in range(workers):
                stack.enter_context(
                    harness.celery_worker("worker.app", env, "--pool", "threads", "--concurrency", str(concurrency), "-Q", QUEUES)
                )
            deadline = time.monotonic() + 900
            while time.monotonic() < deadline:
                with runtime.store.transaction() as session:
                    done = session.execute(
                        select(func.count()).select_from(Job).where(Job.state.in_(["succeeded", "failed", "needs_review"]))
                    ).scalar_one()
                if done >= jobs:
                    break
                time.sleep(0.2)
        with runtime.store.transaction() as session:
            first, last, attempts = session.execute(
                select(func.min(Attempt.started_at), func.max(Attempt.finished_at), func.count()).where(Attempt.job_id.in_(ids))
            ).one()
            succeeded = session.execute(select(func.count()).select_from(Job).where(Job.state == "succeeded")).scalar_one()
        runtime.close()
    received = httpx.get(f"{sandbox}/_sandbox/printeers/org", headers=headers).json()["orders_received"]
    return {
        "jobs/s": jobs / (last - first).total_seconds(),
        "succeeded": succeeded,
        "attempts per job": attempts / jobs,
        "orders beyond one per job": received - jobs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    rows = []
    with harness.redis_url() as redis_url, harness.sandbox() as sandbox:
        prepare(sandbox)  # the sandbox's limits out of the way
        for workers in (int(n) for n in args.workers.split(",")):
            rows.append((workers, run(redis_url, sandbox, workers=workers, jobs=args.jobs, concurrency=args.concurrency)))
            print(f"  {workers} worker process(es): {rows[-1][1]}")
    print(f"\n{args.jobs} submit_order jobs on PostgreSQL, worker processes x {args.concurrency} threads")
    print(f"{'workers':>8}{'jobs/s':>10}{'succeeded':>11}{'attempts/job':>14}{'called twice':>14}")
    for workers, r in rows:
        print(f"{workers:>8}{r['jobs/s']:>10.0f}{r['succeeded']:>11}{r['attempts per job']:>14.2f}{r['orders beyond one per job']:>14}")


if __name__ == "__main__":
    main()
