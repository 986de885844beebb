"""Retry-After punctuality: how long after the provider's earliest allowed moment the next
attempt of a throttled job actually starts.

    python -m bench.punctuality [--jobs 30] [--retry-after 1] [--rate R]

``--jobs`` ``track_order`` jobs, each answered once with 429 + Retry-After (a fault on its own
order's path), then ``order_not_found`` (the orders are made up). For every throttled attempt: (next attempt's start) - (the 429's end + Retry-After). The end is recorded after the 429
arrived, so this earliest start is at or before the real one: a negative figure would mean
printrelay came back too early.

By default the jobs arrive one every Retry-After + 0.3 s, so that each 429 freezes the provider
account's bucket (DESIGN.md: "freeze that bucket for every worker until then") while no other job
is due: the figure is printrelay's own timing. ``--rate R`` sends them faster (``--rate 0``: in one
burst); then later jobs' 429s freeze the bucket while earlier jobs are due, and the figure mostly
measures those freezes, which printrelay honours on purpose.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
import uuid

import httpx

from bench import harness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=30)
    parser.add_argument("--retry-after", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=None, help="enqueue this many jobs a second (0: all at once)")
    args = parser.parse_args()
    if args.rate is None:
        args.rate = 1 / (args.retry_after + 0.3)
    with harness.redis_url() as redis_url, harness.sandbox() as sandbox:
        env = harness.printeers_env(redis_url, sandbox, "sk_bench_punctuality")
        from worker.queries import get_job, wait_for

        runtime = harness.local_runtime(env)
        with harness.celery_worker(
            "worker.app", env, "--pool", "threads", "--concurrency", str(args.concurrency), "-Q", "printrelay,printrelay.printeers"
        ):
            # one 429 per job, on its own order's path: a job's retry meets no other job's fault
            tag = uuid.uuid4().hex[:8]
            references = [f"Order_{tag}{n:04d}" for n in range(args.jobs)]
            faults = [
                {"kind": "throttle", "retry_after": args.retry_after, "method": "GET", "path": f"/orders/{ref}"} for ref in references
            ]
            httpx.post(f"{sandbox}/_sandbox/knobs/printeers", json={"faults": faults})
            ids = []
            for ref in references:
                ids.append(runtime.intake.enqueue("track_order", "printeers", {"order_reference": ref}).id)
                if args.rate:
                    time.sleep(1 / args.rate)
            lateness = []
            for job_id in ids:
                done = wait_for(job_id, timeout=300, runtime=runtime)
                attempts = get_job(job_id, runtime=runtime).attempts or []
                assert done.finished, done.to_dict()  # the orders are made up: each ends order_not_found
                for first, second in itertools.pairwise(attempts):
                    if first.outcome == "throttled":
                        asked = first.finished_at.timestamp() + (first.retry_after or 0)
                        lateness.append(second.started_at.timestamp() - asked)
        runtime.close()
    lateness.sort()
    q = statistics.quantiles(lateness, n=100, method="inclusive")  # never past the largest
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
