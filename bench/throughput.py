"""Jobs per second: 1000 ``submit_order`` jobs through one printrelay worker against the
sandbox, beside a no-op Celery task on the same broker with the same worker settings.

    python -m bench.throughput [--jobs 1000] [--concurrency 16] [--database URL]

Both run in this one invocation, one after the other, on the same Redis; the figure that
matters is the ratio (machines here are noisy). Time is from the first enqueue/publish to the
last job finished, so it includes the producer's cost.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import redis
from sqlalchemy import func, select

from bench import harness

STORE = "Store_9jmn3dewwvy13rv12k7aannqzy"
PRODUCT = "Product_4j8k2m5n7p9q1r3s6t8v0w2x4y"


def printrelay_run(redis_url: str, sandbox: str, database: str, jobs: int, concurrency: int) -> dict[str, float]:
    # the sandbox's default bucket is Printeers' published 3000/60 s; keep it out of the way
    env = harness.printeers_env(redis_url, sandbox, "sk_bench_throughput", database=database)
    os.environ.update(env)
    from config.celery import celery_config
    from config.settings import get_settings, use_settings

    use_settings(None)
    from worker.app import app
    from worker.queries import wait_for
    from worker.runtime import reset_runtime
    from worker.store import Job

    app.conf.update(celery_config(get_settings()))
    httpx.post(f"{sandbox}/_sandbox/printeers/config", json={"limits": {"default": [100000, 60]}})
    runtime = reset_runtime(get_settings())
    runtime.store.upgrade()
    design = Path(tempfile.mkdtemp()) / "design.png"
    design.write_bytes(httpx.get(f"{sandbox}/_sandbox/files/sample.png").content)
    with harness.celery_worker(
        "worker.app", env, "--pool", "threads", "--concurrency", str(concurrency), "-Q", "printrelay,printrelay.printeers"
    ):
        upload = runtime.intake.enqueue("upload_image", "printeers", {"source": str(design)})
        image = wait_for(upload.id, timeout=30, runtime=runtime).result or {}
        payload = {
            "order": {
                "storeReference": STORE,
                "shippingKind": "combined",
                "orderlines": [{"productReference": PRODUCT, "imageReference": image["image_reference"], "quantity": 1}],
            }
        }
        since = datetime.now(UTC)
        start = time.perf_counter()
        for _ in range(jobs):
            runtime.intake.enqueue("submit_order", "printeers", payload)
        enqueued = time.perf_counter() - start
        while True:
            with runtime.store.transaction() as session:
                done = session.execute(
                    select(func.count())
                    .select_from(Job)
                    .where(Job.kind == "submit_order", Job.created_at >= since, Job.state.in_(["succeeded", "failed"]))
                ).scalar_one()
            if done >= jobs:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - start
        with runtime.store.transaction() as session:
            failed = session.execute(
                select(func.count()).select_from(Job).where(Job.created_at >= since, Job.state != "succeeded")
            ).scalar_one()
    runtime.close()
    return {"elapsed": elapsed, "enqueue_per_s": jobs / enqueued, "jobs_per_s": jobs / elapsed, "not_succeeded": float(failed)}


def noop_run(redis_url: str, jobs: int, concurrency: int) -> dict[str, float]:
    env = {"PRINTRELAY_REDIS_URL": redis_url}
    os.environ.update(env)
    client = redis.Redis.from_url(redis_url)
    client.delete("bench:noop:done")
    from bench.noop_app import app

    with harness.celery_worker("bench.noop_app", env, "--pool", "threads", "--concurrency", str(concurrency), "-Q", "printrelay"):
        start = time.perf_counter()
        for n in range(jobs):
            app.send_task("bench.noop", args=[n], queue="printrelay")
        while int(client.get("bench:noop:done") or 0) < jobs:
            time.sleep(0.02)
        elapsed = time.perf_counter() - start
    return {"elapsed": elapsed, "jobs_per_s": jobs / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--database", default=None, help="default: SQLite in a temporary folder")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    rates: dict[str, list[float]] = {"printrelay": [], "noop": []}
    with harness.redis_url() as redis_url, harness.sandbox() as sandbox:
        for round_ in range(args.rounds):
            database = args.database or f"sqlite:///{tempfile.mkdtemp(prefix='printrelay-bench-')}/bench.db"
            noop = noop_run(redis_url, args.jobs, args.concurrency)
            real = printrelay_run(redis_url, sandbox, database, args.jobs, args.concurrency)
            rates["noop"].append(noop["jobs_per_s"])
            rates["printrelay"].append(real["jobs_per_s"])
            print(
                f"round {round_ + 1}: no-op Celery task {noop['jobs_per_s']:.0f}/s ({noop['elapsed']:.2f} s); "
                f"printrelay submit_order {real['jobs_per_s']:.0f}/s ({real['elapsed']:.2f} s; enqueue {real['enqueue_per_s']:.0f}/s; "
                f"not succeeded: {real['not_succeeded']:.0f})"
            )
    noop_median, real_median = statistics.median(rates["noop"]), statistics.median(rates["printrelay"])
    print(f"\n{args.jobs} jobs, 1 worker, threads pool x{args.concurrency}, database {args.database or 'SQLite'}")
    print(f"no-op Celery task:          {noop_median:8.0f} jobs/s (median of {args.rounds})")
    print(f"printrelay submit_order:    {real_median:8.0f} jobs/s (median of {args.rounds})")
    print(f"ratio printrelay / no-op:   {real_median / noop_median:8.2f}")


if __name__ == "__main__":
    main()
