"""A provider outage longer than the jobs' retry budget, with the circuit and without, side by side.

    python -m bench.outage [--jobs 30] [--outage 20]

Each run: a fresh sandbox organisation with ``--jobs`` orders placed; then the sandbox's outage
knob makes Printeers answer every call with a 503 HTML page for ``--outage`` seconds, and one
``track_order`` job per order is enqueued. ``track_order`` is given a budget of 4 attempts with
backoff from 0.5 s capped at 2 s, so without the circuit the outage outlasts it. Printed per run:
jobs failed (their budget spent on the outage), calls Printeers received while down, and the
seconds from its recovery to the last job's end.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from typing import Any

import httpx

from bench import harness

STORE = "Store_9jmn3dewwvy13rv12k7aannqzy"
PRODUCT = "Product_4j8k2m5n7p9q1r3s6t8v0w2x4y"


def run(sandbox: str, redis_url: str, *, circuit: bool, jobs: int, outage: float) -> dict[str, Any]:
    tag = f"{'with' if circuit else 'without'}-{int(time.time())}"
    env = {
        "PRINTRELAY_REDIS_URL": redis_url,
        "PRINTRELAY_DATABASE_URL": f"sqlite:///{tempfile.mkdtemp(prefix='printrelay-bench-')}/outage.db",
        "PRINTRELAY_PRINTEERS__BASE_URL": f"{sandbox}/printeers/v2",
        "PRINTRELAY_PRINTEERS__SECRET_KEY": f"sk_bench_{tag}",
        "PRINTRELAY_PRINTEERS__READ_TIMEOUT": "5",
        "PRINTRELAY_RETRY__TRACK_ORDER__BASE": "0.5",
        "PRINTRELAY_RETRY__TRACK_ORDER__CAP": "2",
        "PRINTRELAY_RETRY__TRACK_ORDER__MAX_ATTEMPTS": "4",
        "PRINTRELAY_CIRCUIT__ENABLED": "true" if circuit else "false",
        "PRINTRELAY_CIRCUIT__PROBE_MIN": "1",
        "PRINTRELAY_CIRCUIT__PROBE_MAX": "4",
    }
    from worker.queries import get_job, wait_for

    runtime = harness.local_runtime(env)
    design = harness.sample_design(sandbox)
    queues = "printrelay,printrelay.printeers"
    with harness.celery_worker("worker.app", env, "--pool", "threads", "--concurrency", "16", "-Q", queues):
        upload = runtime.intake.enqueue("upload_image", "printeers", {"source": str(design)})
        image = (wait_for(upload.id, timeout=30, runtime=runtime).result or {})["image_reference"]
        line = {"productReference": PRODUCT, "imageReference": image, "quantity": 1}
        orders = [
            runtime.intake.enqueue(
                "submit_order", "printeers", {"order": {"storeReference": STORE, "shippingKind": "combined", "orderlines": [line]}}
            )
            for _ in range(jobs)
        ]
        references = [(wait_for(o.id, timeout=60, runtime=runtime).result or {})["order_reference"] for o in orders]

        down_from = time.time()
        down_until = down_from + outage
        httpx.post(f"{sandbox}/_sandbox/knobs/printeers", json={"outage_until": down_until})
        tracked = [runtime.intake.enqueue("track_order", "printeers", {"order_reference": ref}).id for ref in references]
        ended = [wait_for(job_id, timeout=outage + 120, runtime=runtime) for job_id in tracked]
        httpx.post(f"{sandbox}/_sandbox/knobs/printeers", json={"outage_until": 0})
    log = httpx.get(f"{sandbox}/_sandbox/requests", params={"provider": "printeers"}).json()["requests"]
    calls_while_down = sum(
        1
        for r in log
        if down_from <= r["time"] <= down_until and "/orders/Order_" in r["path"] and r["path"].split("/orders/")[1] in references
    )
    last_end = max(get_job(j.id, runtime=runtime).updated_at.timestamp() for j in ended)
    failed = [j for j in ended if j.state != "succeeded"]
    runtime.close()
    return {
        "circuit": "on" if circuit else "off",
        "jobs": jobs,
        "failed": len(failed),
        "failed_codes": sorted({(j.error or {}).get("code") or "?" for j in failed}),
        "calls while down": calls_while_down,
        "recovery to drained (s)": round(last_end - down_until, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=30)
    parser.add_argument("--outage", type=float, default=20.0)
    args = parser.parse_args()
    with harness.redis_url() as redis_url, harness.sandbox() as sandbox:
        results = [run(sandbox, redis_url, circuit=c, jobs=args.jobs, outage=args.outage) for c in (False, True)]
    print(f"Printeers down for {args.outage:g} s; {args.jobs} track_order jobs, each with 4 attempts (backoff 0.5 s..2 s)")
    keys = [k for k in results[0] if k != "circuit"]
    print(f"{'':26}" + "".join(f"{'circuit ' + r['circuit']:>24}" for r in results))
    for key in keys:
        print(f"{key:26}" + "".join(f"{', '.join(r[key]) if isinstance(r[key], list) else r[key]!s:>24}" for r in results))
    print("(recovery to drained < 0: every job had ended, failed, before the provider came back)")


if __name__ == "__main__":
    main()
