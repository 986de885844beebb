"""The job path: how fast a printrelay worker drains jobs, beside a bare Celery task making the same
HTTP call (``bench/peer_app.py``), same broker, same threads pool and concurrency, one run each
side by side (these machines are noisy: the ratio is the figure).

    python -m bench.jobpath [--jobs 600] [--concurrency 16] [--kinds track_order,submit_order]
                            [--databases sqlite,postgresql] [--rounds 1]

For each kind and database: N messages are queued first, then one worker process is started and
the rate is N / (last end - first start), taken from the peer's own timestamps and from
printrelay's attempt rows. ``track_order`` is Printeers' ``GET /orders/{ref}`` of an order placed
beforehand, then ``GET /shipments/{ref}`` of each of its shipments (the peer makes the same calls);
``submit_order`` is its ``POST /orders``. The sandbox's and printrelay's rate limits
are raised out of the way (this measures the path, not the buckets).

With the sandbox answering at once (``--latency 0``, the default) both sides are bound by the
worker process's CPU, so every microsecond printrelay spends on a job (its two statements, its
bucket, its bookkeeping) shows. Warning: with a real provider's latency (``--latency 0.05``) they
still are: the threads pool runs on one core (the GIL) shared with Celery's consumer thread, which
then feeds the pool more slowly the more CPU each job takes (py-spy shows the pool's threads idle,
waiting for messages). The ratio stays near the CPU-bound one and moves more between rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import redis

from bench import harness

STORE = "Store_9jmn3dewwvy13rv12k7aannqzy"
PRODUCT = "Product_4j8k2m5n7p9q1r3s6t8v0w2x4y"
KEY = "sk_bench_jobpath"
QUEUE = "printrelay.printeers"


def order_body(image: str) -> dict[str, Any]:
    line = {"productReference": PRODUCT, "imageReference": image, "quantity": 1}
    return {"order": {"storeReference": STORE, "shippingKind": "combined", "orderlines": [line]}}


def prepare(sandbox: str) -> dict[str, str]:
    """An image and an order at the sandbox, placed directly (the jobs track or repeat them)."""
    # limits out of the way; the order does not move on while the bench runs (a shipped order adds
    # a call per job, and only to the side that runs later)
    limits = {"default": [10_000_000, 60], "uploads": [10_000_000, 60]}
    httpx.post(f"{sandbox}/_sandbox/printeers/config", json={"limits": limits, "order_step_seconds": 1_000_000})
    headers = {"X-Printeers-Secret-Key": KEY}
    png = httpx.get(f"{sandbox}/_sandbox/files/sample.png").content
    image = httpx.post(f"{sandbox}/printeers/v2/images", content=png, headers=headers).json()["image"]["reference"]
    placed = httpx.post(f"{sandbox}/printeers/v2/orders", json=order_body(image), headers=headers).json()
    return {"image": image, "order": placed["order"]["reference"]}


def peer_run(redis_url: str, sandbox: str, kind: str, refs: dict[str, str], jobs: int, concurrency: int) -> float:
    env = {"PRINTRELAY_REDIS_URL": redis_url}
    os.environ.update(env)
    client = redis.Redis.from_url(redis_url)
    client.delete("bench:peer:done", "bench:peer:first", "bench:peer:last")
    from bench.peer_app import app

    base = f"{sandbox}/printeers/v2"
    if kind == "track_order":
        task, args = "bench.peer.track", [base, refs["order"], KEY]
    else:
        task, args = "bench.peer.call", ["POST", f"{base}/orders", KEY, order_body(refs["image"])]
    with app.producer_or_acquire() as producer:
        for _ in range(jobs):
            app.send_task(task, args=args, queue=QUEUE, producer=producer)
    with harness.celery_worker("bench.peer_app", env, "--pool", "threads", "--concurrency", str(concurrency), "-Q", QUEUE):
        deadline = time.monotonic() + 600
        while int(client.get("bench:peer:done") or 0) < jobs and time.monotonic() < deadline:
            time.sleep(0.05)
    first, last = float(client.get("bench:peer:first") or 0), float(client.get("bench:peer:last") or 0)
    return jobs / (last - first)


def printrelay_run(redis_url: str, sandbox: str, database: str, kind: str, refs: dict[str, str], jobs: int, concurrency: int) -> float:
    env = harness.printeers_env(
        redis_url,
        sandbox,
        KEY,
        database=database,
        PRINTEERS__RATE_LIMITS="default=10000000/60,uploads=10000000/60",
        WORKER_CONCURRENCY=str(concurrency),
    )
    runtime = harness.local_runtime(env)
    from sqlalchemy import func, select

    from worker.store import Attempt, Job

    payload = {"order_reference": refs["order"]} if kind == "track_order" else order_body(refs["image"])
    ids = [job.id for job in runtime.intake.enqueue_many(kind, "printeers", [payload] * jobs)]
    with harness.celery_worker("worker.app", env, "--pool", "threads", "--concurrency", str(concurrency), "-Q", QUEUE):
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            with runtime.store.transaction() as session:
                done = session.execute(
                    select(func.count()).select_from(Job).where(Job.id.in_(ids), Job.state.in_(["succeeded", "failed"]))
                ).scalar_one()
            if done >= jobs:
                break
            time.sleep(0.1)
    with runtime.store.transaction() as session:
        first, last = session.execute(
            select(func.min(Attempt.started_at), func.max(Attempt.finished_at)).where(Attempt.job_id.in_(ids))
        ).one()
        failed = session.execute(select(func.count()).select_from(Job).where(Job.id.in_(ids), Job.state != "succeeded")).scalar_one()
    runtime.close()
    if failed:
        print(f"  ({failed} of the printrelay jobs did not succeed)")
    return float(jobs / (last - first).total_seconds())


@contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tempfile.mkdtemp(prefix='printrelay-bench-')}/jobpath.db"
    else:
        with harness.postgres_database() as url:
            yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--kinds", default="track_order,submit_order")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds the sandbox takes to answer (a real provider's: 0.05..0.3)")
    args = parser.parse_args()
    rows = []
    with harness.redis_url() as redis_url, harness.sandbox() as sandbox:
        refs = prepare(sandbox)
        httpx.post(f"{sandbox}/_sandbox/knobs/printeers", json={"latency": args.latency})
        for kind in args.kinds.split(","):
            for db in args.databases.split(","):
                peers, ours = [], []
                for _ in range(args.rounds):
                    peers.append(peer_run(redis_url, sandbox, kind, refs, args.jobs, args.concurrency))
                    with database(db) as url:
                        ours.append(printrelay_run(redis_url, sandbox, url, kind, refs, args.jobs, args.concurrency))
                    print(f"  {kind} on {db}: peer {peers[-1]:.0f}/s, printrelay {ours[-1]:.0f}/s")
                rows.append((kind, db, statistics.median(peers), statistics.median(ours)))
    print(
        f"\n{args.jobs} jobs a run, one worker process, threads pool x{args.concurrency}; provider latency {args.latency * 1000:.0f} ms; "
        f"medians of {args.rounds} round(s)"
    )
    print(f"{'kind':14}{'database':12}{'bare Celery + httpx':>22}{'printrelay':>12}{'ratio':>8}")
    for kind, db, peer, ours in rows:
        print(f"{kind:14}{db:12}{peer:>20.0f}/s{ours:>10.0f}/s{ours / peer:>8.2f}")


if __name__ == "__main__":
    main()
