"""printrelay's shared buckets vs the usual Celery approach, against a provider enforcing L calls/s.

    python -m bench.ratelimit_compare [--rate 20] [--workers 2] [--concurrency 8]

Both run here, one after the other, against one sandbox whose Printeers ``default`` bucket
allows L calls a second (burst L). Each sends 10·L order submits through ``--workers`` worker
processes. Reported: wall time relative to the ideal 10 s, and the 429s the sandbox sent.
(a) printrelay, configured with the provider's published limit L/1 s; (b) a Celery task with
``rate_limit="L/s"`` (per worker process) and ``autoretry_for`` HTTP errors with backoff.
"""

from __future__ import annotations

import argparse
import os
import time
from contextlib import ExitStack
from datetime import UTC, datetime

import httpx
import redis
from sqlalchemy import func, select

from bench import harness

STORE = "Store_9jmn3dewwvy13rv12k7aannqzy"
PRODUCT = "Product_4j8k2m5n7p9q1r3s6t8v0w2x4y"


def org(sandbox: str, key: str) -> dict:  # type: ignore[type-arg]
    return dict(httpx.get(f"{sandbox}/_sandbox/printeers/org", headers={"X-Printeers-Secret-Key": key}).json())


def image_reference(sandbox: str, key: str) -> str:
    png = httpx.get(f"{sandbox}/_sandbox/files/sample.png").content
    response = httpx.post(f"{sandbox}/printeers/v2/images", content=png, headers={"X-Printeers-Secret-Key": key})
    return str(response.json()["image"]["reference"])


def order(reference: str) -> dict:  # type: ignore[type-arg]
    return {
        "order": {
            "storeReference": STORE,
            "shippingKind": "combined",
            "orderlines": [{"productReference": PRODUCT, "imageReference": reference, "quantity": 1}],
        }
    }


def run_printrelay(redis_url: str, sandbox: str, rate: int, jobs: int, workers: int, concurrency: int) -> tuple[float, int]:
    key = "sk_bench_printrelay"
    env = harness.printeers_env(redis_url, sandbox, key, PRINTEERS__RATE_LIMITS=f"default={rate}/1,uploads=5000/86400")
    os.environ.update(env)
    from config.celery import celery_config
    from config.settings import get_settings, use_settings

    use_settings(None)
    from worker.app import app
    from worker.runtime import reset_runtime
    from worker.store import Job

    app.conf.update(celery_config(get_settings()))
    runtime = reset_runtime(get_settings())
    runtime.store.upgrade()
    payload = order(image_reference(sandbox, key))
    time.sleep(1.5)  # let the image upload's default token come back
    with ExitStack() as stack:
        for _ in range(workers):
            stack.enter_context(
                harness.celery_worker(
                    "worker.app", env, "--pool", "threads", "--concurrency", str(concurrency), "-Q", "printrelay,printrelay.printeers"
                )
            )
        since = datetime.now(UTC)
        start = time.perf_counter()
        for _ in range(jobs):
            runtime.intake.enqueue("submit_order", "printeers", payload)
        while True:
            with runtime.store.transaction() as session:
                done = session.execute(
                    select(func.count())
                    .select_from(Job)
                    .where(Job.created_at >= since, Job.state.in_(["succeeded", "failed", "needs_review"]))
                ).scalar_one()
            if done >= jobs:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - start
    runtime.close()
    return elapsed, int(org(sandbox, key)["throttled"])


def run_celery(redis_url: str, sandbox: str, rate: int, jobs: int, workers: int, concurrency: int) -> tuple[float, int]:
    key = "sk_bench_celery"
    env = {"PRINTRELAY_REDIS_URL": redis_url, "BENCH_RATE": f"{rate}/s"}
    os.environ.update(env)
    from bench.celery_ratelimit_app import app

    client = redis.Redis.from_url(redis_url)
    client.delete("bench:ratelimit:done")
    payload = order(image_reference(sandbox, key))
    time.sleep(1.5)
    with ExitStack() as stack:
        for _ in range(workers):
            stack.enter_context(
                harness.celery_worker("bench.celery_ratelimit_app", env, "--pool", "threads", "--concurrency", str(concurrency))
            )
        start = time.perf_counter()
        for _ in range(jobs):
            app.send_task("bench.submit", args=[f"{sandbox}/printeers/v2/orders", key, payload])
        deadline = start + 300
        while int(client.get("bench:ratelimit:done") or 0) < jobs and time.perf_counter() < deadline:
            time.sleep(0.05)
        elapsed = time.perf_counter() - start
    return elapsed, int(org(sandbox, key)["throttled"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=20, help="L: the sandbox's calls per second")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    jobs = 10 * args.rate
    with harness.redis_url() as redis_url, harness.sandbox() as sandbox:
        httpx.post(f"{sandbox}/_sandbox/printeers/config", json={"limits": {"default": [args.rate, 1]}})
        results = {
            "printrelay (shared buckets)": run_printrelay(redis_url, sandbox, args.rate, jobs, args.workers, args.concurrency),
            f"Celery rate_limit={args.rate}/s + autoretry": run_celery(redis_url, sandbox, args.rate, jobs, args.workers, args.concurrency),
        }
    print(
        f"{jobs} submits, sandbox limit {args.rate}/s (burst {args.rate}), {args.workers} worker processes x {args.concurrency} threads; ideal 10 s"
    )
    for name, (elapsed, throttled) in results.items():
        print(f"{name:40} {elapsed:6.2f} s = {elapsed / 10:5.2f} x ideal   429s sent by the sandbox: {throttled}")


if __name__ == "__main__":
    main()
