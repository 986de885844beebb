"""At the provider's own rate: the 429s two workers draw, and the share of the quota they use, by
safety margin (``PRINTRELAY_RATE_LIMIT_MARGIN``), with the limit set and with it learned from the
provider's ``X-RateLimit-Policy`` header. One run, side by side.

    python -m bench.quota [--rate 20] [--seconds 12] [--margins 0,0.01,0.02,0.03]

Each run: a fresh sandbox organisation whose Printeers ``default`` bucket allows ``--rate`` calls a
second (a continuously refilled token bucket, burst ``--rate``), two worker processes of 8 threads,
``--rate`` x ``--seconds`` order submits queued at once. "set": printrelay is configured with the
same limit; "learned": it is configured with 10x the limit and learns the real one from the first
answers' headers. Printed: 429s the sandbox sent, and the steady rate (after the first burst) as a
share of the quota.
"""

from __future__ import annotations

import argparse
import time
from contextlib import ExitStack
from typing import Any

import httpx

from bench import harness
from bench.ratelimit_compare import image_reference, order, org


def run(redis_url: str, sandbox: str, *, rate: int, seconds: float, margin: float, learned: bool) -> dict[str, Any]:
    key = f"sk_bench_quota_{int(time.time() * 1000)}"
    configured = rate * 10 if learned else rate
    env = harness.printeers_env(
        redis_url, sandbox, key, PRINTEERS__RATE_LIMITS=f"default={configured}/1,uploads=5000/86400", RATE_LIMIT_MARGIN=str(margin)
    )
    runtime = harness.local_runtime(env)
    from sqlalchemy import select

    from worker.queries import wait_for
    from worker.store import Attempt

    payload = order(image_reference(sandbox, key))
    time.sleep(1.5)  # the upload's token comes back: every run starts with a full bucket
    jobs = int(rate * seconds)
    args = ("--pool", "threads", "--concurrency", "8", "-Q", "printrelay,printrelay.printeers")
    with ExitStack() as stack:
        for _ in range(2):
            stack.enter_context(harness.celery_worker("worker.app", env, *args))
        ids = [job.id for job in runtime.intake.enqueue_many("submit_order", "printeers", [payload] * jobs)]
        for job_id in ids:
            wait_for(job_id, timeout=seconds * 10 + 60, runtime=runtime)
    with runtime.store.transaction() as session:
        starts = sorted(
            t.timestamp()
            for t in session.execute(select(Attempt.started_at).where(Attempt.job_id.in_(ids), Attempt.outcome == "done")).scalars()
        )
    runtime.close()
    steady = starts[rate:]  # after the first burst of a full bucket
    achieved = (len(steady) - 1) / (steady[-1] - steady[0]) if len(steady) > 1 else 0.0
    return {"429s": int(org(sandbox, key)["throttled"]), "share": achieved / rate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=12)
    parser.add_argument("--margins", default="0,0.01,0.02,0.03")
    args = parser.parse_args()
    margins = [float(m) for m in args.margins.split(",")]
    rows = []
    with harness.redis_url() as redis_url, harness.sandbox() as sandbox:
        httpx.post(f"{sandbox}/_sandbox/printeers/config", json={"limits": {"default": [args.rate, 1]}})
        for margin in margins:
            for learned in (False, True):
                result = run(redis_url, sandbox, rate=args.rate, seconds=args.seconds, margin=margin, learned=learned)
                rows.append((margin, "learned" if learned else "set", result))
                print(f"  margin {margin:.0%} {rows[-1][1]:8}: {result['429s']} x 429, {result['share']:.1%} of quota")
    print(f"\nsandbox limit {args.rate}/s (burst {args.rate}); 2 workers x 8 threads; {int(args.rate * args.seconds)} submits a run")
    print(f"{'margin':>8}{'limit':>10}{'429s':>8}{'steady share of quota':>24}")
    for margin, mode, result in rows:
        print(f"{margin:>8.0%}{mode:>10}{result['429s']:>8}{result['share']:>24.1%}")


if __name__ == "__main__":
    main()
