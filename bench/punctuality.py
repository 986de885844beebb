"""Retry-After punctuality: how long after the provider's earliest allowed moment the next
attempt of a throttled job actually starts.

    python -m bench.punctuality [--jobs 200] [--retry-after 2]

The sandbox answers the first ``--jobs`` order submits with 429 + Retry-After; a retry may meet
one of those 429s again. For every throttled attempt: (second attempt's start) - (first attempt's end
+ Retry-After). The first attempt's end is recorded after the 429 arrived, so the asked earliest
start is at or before it: a negative figure would mean printrelay came back too early.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time

import httpx

from bench import harness

STORE = "Store_9jmn3dewwvy13rv12k7aannqzy"
PRODUCT = "Product_4j8k2m5n7p9q1r3s6t8v0w2x4y"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--retry-after", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=0, help="enqueue this many jobs a second (0: all at once)")
    args = parser.parse_args()
    with harness.redis_url() as redis_url, harness.sandbox() as sandbox:
        env = {
            "PRINTRELAY_REDIS_URL": redis_url,
            "PRINTRELAY_DATABASE_URL": f"sqlite:///{tempfile.mkdtemp(prefix='printrelay-bench-')}/punctuality.db",
            "PRINTRELAY_PRINTEERS__BASE_URL": f"{sandbox}/printeers/v2",
            "PRINTRELAY_PRINTEERS__SECRET_KEY": "sk_bench_punctuality",
        }
        from worker.queries import get_job, wait_for

        runtime = harness.local_runtime(env)
        design = harness.sample_design(sandbox)
        with harness.celery_worker(
            "worker.app", env, "--pool", "threads", "--concurrency", str(args.concurrency), "-Q", "printrelay,printrelay.printeers"
        ):
            upload = runtime.intake.enqueue("upload_image", "printeers", {"source": str(design)})
            image = (wait_for(upload.id, timeout=30, runtime=runtime).result or {})["image_reference"]
            fault = {"kind": "throttle", "retry_after": args.retry_after, "method": "POST", "path": "/orders", "times": args.jobs}
            httpx.post(f"{sandbox}/_sandbox/knobs/printeers", json={"faults": [fault]})
            payload = {
                "order": {
                    "storeReference": STORE,
                    "shippingKind": "combined",
                    "orderlines": [{"productReference": PRODUCT, "imageReference": image, "quantity": 1}],
                }
            }
            ids = []
            for _ in range(args.jobs):
                ids.append(runtime.intake.enqueue("submit_order", "printeers", payload).id)
                if args.rate:
                    time.sleep(1 / args.rate)
            lateness = []
            for job_id in ids:
                done = wait_for(job_id, timeout=120, runtime=runtime)
                attempts = get_job(job_id, runtime=runtime).attempts or []
                assert done.state == "succeeded", done.to_dict()
                for first, second in itertools.pairwise(attempts):
                    if first.outcome == "throttled":
                        asked = first.finished_at.timestamp() + (first.retry_after or 0)
                        lateness.append(second.started_at.timestamp() - asked)
        runtime.close()
    lateness.sort()
    q = statistics.quantiles(lateness, n=100)
    pace = f"enqueued at {args.rate:g}/s" if args.rate else "enqueued in one burst"
    print(
        f"{args.jobs} jobs {pace}, {len(lateness)} throttled attempts, Retry-After {args.retry_after} s, 1 worker x{args.concurrency} threads"
    )
    print(
        f"start - asked earliest start: min {lateness[0] * 1000:.0f} ms, median {statistics.median(lateness) * 1000:.0f} ms, "
        f"p95 {q[94] * 1000:.0f} ms, p99 {q[98] * 1000:.0f} ms, max {lateness[-1] * 1000:.0f} ms"
    )
    print(f"negatives (came back too early): {sum(1 for x in lateness if x < 0)}")


if __name__ == "__main__":
    main()
