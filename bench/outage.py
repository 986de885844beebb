"""Incidents, measured: a provider outage, a killed worker, a Redis that forgot, a database restart.

    python -m bench.outage [--jobs 30] [--outage 20] [--db-outage 10] [--only provider,takeover,republish,database]

- **provider**: an outage longer than the jobs' retry budget, with the circuit and without, side
  by side. Each run: a fresh sandbox organisation with ``--jobs`` orders placed; then the
  sandbox's outage knob makes Printeers answer every call with a 503 HTML page for ``--outage``
  seconds, and one ``track_order`` job per order is enqueued, with a budget of 4 attempts
  (backoff 0.5 s..2 s), so without the circuit the outage outlasts it. Printed: jobs failed,
  calls Printeers received while down, seconds from its recovery to the last job's end.
- **takeover**: a worker SIGKILLed in the middle of a call (default lease and heartbeat); seconds
  from the kill to the recovery's crashed attempt, and to the job's success on another worker.
- **republish**: 200 jobs queued in Redis, then FLUSHDB (a Redis restarted without persistence);
  seconds until beat has published every one of them again (the alternative: ``requeue_after``).
- **database**: 30 Printeers order submits under way through a TCP fault proxy in front of
  PostgreSQL, which is cut off for ``--db-outage`` seconds (connections cut, new ones refused:
  a restart). Printed: how the jobs ended, jobs still unfinished 30 s after the database came
  back, orders placed twice, and seconds from its return to the last job's end.
"""

from __future__ import annotations

import argparse
import signal
import time
from typing import Any

import httpx

from bench import harness

STORE = "Store_9jmn3dewwvy13rv12k7aannqzy"
PRODUCT = "Product_4j8k2m5n7p9q1r3s6t8v0w2x4y"


def run(sandbox: str, redis_url: str, *, circuit: bool, jobs: int, outage: float) -> dict[str, Any]:
    tag = f"{'with' if circuit else 'without'}-{int(time.time())}"
    env = {
        **harness.printeers_env(redis_url, sandbox, f"sk_bench_{tag}"),
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


def takeover(sandbox: str, redis_url: str) -> dict[str, Any]:
    """Seconds from a worker's SIGKILL (mid-call) to the recovery's crashed attempt and to success."""
    env = harness.printeers_env(redis_url, sandbox, f"sk_bench_takeover_{int(time.time())}", PRINTEERS__READ_TIMEOUT="120")
    from worker.queries import get_job, wait_for

    runtime = harness.local_runtime(env)
    design = harness.sample_design(sandbox)
    args = ("--pool", "threads", "--concurrency", "4", "-Q", "printrelay,printrelay.printeers")
    with harness.celery_beat("worker.app", env), harness.celery_worker("worker.app", env, *args) as doomed:
        httpx.post(
            f"{sandbox}/_sandbox/knobs/printeers", json={"faults": [{"kind": "hang", "seconds": 90, "method": "POST", "path": "/images"}]}
        )
        job = runtime.intake.enqueue("upload_image", "printeers", {"source": str(design)})
        while get_job(job.id, attempts=False, runtime=runtime).state != "running":
            time.sleep(0.05)
        time.sleep(0.5)  # the call is at the sandbox
        doomed.send_signal(signal.SIGKILL)
        killed = time.time()
        with harness.celery_worker("worker.app", env, *args):
            done = wait_for(job.id, timeout=120, runtime=runtime)
    attempts = get_job(job.id, runtime=runtime).attempts or []
    crashed = next((a for a in attempts if a.outcome == "crashed"), None)
    runtime.close()
    return {
        "lease (s)": runtime.settings.lease_seconds,
        "kill to taken over (s)": round(crashed.finished_at.timestamp() - killed, 1) if crashed else None,
        "kill to succeeded (s)": round(done.updated_at.timestamp() - killed, 1) if done.state == "succeeded" else done.state,
        "attempts": ", ".join(a.outcome for a in attempts),
    }


def republish(sandbox: str, redis_url: str, jobs: int = 200) -> dict[str, Any]:
    """Seconds from a FLUSHDB to every queued job's message being back in its queue."""
    env = harness.printeers_env(redis_url, sandbox, "sk_bench_republish")
    import redis

    from worker import maintenance

    runtime = harness.local_runtime(env)
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    # beat, and a worker for its ticks only: nobody consumes the provider's queue
    with harness.celery_beat("worker.app", env), harness.celery_worker("worker.app", env, "--pool", "threads", "-Q", "printrelay"):
        while not client.exists(maintenance.MARKER):
            time.sleep(0.1)
        for _ in range(jobs):
            runtime.intake.enqueue("track_order", "printeers", {"order_reference": "Order_5jcavdegg8n9pvgxq887jq0zbc"})
        queued = client.llen("printrelay.printeers")
        client.flushdb()
        flushed = time.monotonic()
        while client.llen("printrelay.printeers") < jobs and time.monotonic() - flushed < 120:
            time.sleep(0.02)
        back = time.monotonic() - flushed
    runtime.close()
    return {
        "messages queued before": queued,
        "flush to all republished (s)": round(back, 2),
        "without the marker: requeue_after (s)": runtime.settings.requeue_after,
    }


def database_restart(sandbox: str, redis_url: str, outage: float, jobs: int = 30) -> dict[str, Any]:
    """30 order submits under way when PostgreSQL is cut off for ``outage`` seconds."""
    from tests.faultproxy import FaultProxy

    with harness.postgres_database() as direct, FaultProxy("127.0.0.1", 5432) as proxy:
        from sqlalchemy.engine import make_url

        env = harness.printeers_env(redis_url, sandbox, f"sk_bench_database_{int(time.time())}", database=direct)
        from worker.queries import get_job, wait_for

        runtime = harness.local_runtime(env)  # the producer and the observer: straight to PostgreSQL
        through = {**env, "PRINTRELAY_DATABASE_URL": make_url(direct).set(port=proxy.port).render_as_string(hide_password=False)}
        design = harness.sample_design(sandbox)
        args = ("--pool", "threads", "--concurrency", "4", "-Q", "printrelay,printrelay.printeers")
        with harness.celery_beat("worker.app", through), harness.celery_worker("worker.app", through, *args):
            upload = runtime.intake.enqueue("upload_image", "printeers", {"source": str(design)})
            image = (wait_for(upload.id, timeout=30, runtime=runtime).result or {})["image_reference"]
            httpx.post(f"{sandbox}/_sandbox/knobs/printeers", json={"latency": 1.0})
            line = {"productReference": PRODUCT, "imageReference": image, "quantity": 1}
            body = {"order": {"storeReference": STORE, "shippingKind": "combined", "orderlines": [line]}}
            ids = [runtime.intake.enqueue("submit_order", "printeers", body).id for _ in range(jobs)]
            while sum(get_job(i, attempts=False, runtime=runtime).state == "succeeded" for i in ids) < 4:
                time.sleep(0.1)
            with proxy.down(outage):
                running = sum(get_job(i, attempts=False, runtime=runtime).state == "running" for i in ids)
            back = time.time()
            ended = [wait_for(i, timeout=30 - (time.time() - back), runtime=runtime) for i in ids]
            httpx.post(f"{sandbox}/_sandbox/knobs/printeers", json={"latency": 0})
        org = httpx.get(
            f"{sandbox}/_sandbox/printeers/org", headers={"X-Printeers-Secret-Key": env["PRINTRELAY_PRINTEERS__SECRET_KEY"]}
        ).json()
        attempts = [len(get_job(i, runtime=runtime).attempts or []) for i in ids]
        runtime.close()
    states = {state: sum(1 for j in ended if j.state == state) for state in sorted({j.state for j in ended})}
    finished = [j for j in ended if j.finished]
    return {
        "jobs": jobs,
        "running when it went down": running,
        "ended": ", ".join(f"{n} {state}" for state, n in states.items()),
        "unfinished 30 s after its return": jobs - len(finished),
        "orders placed twice": org["orders_received"] - jobs,
        "attempts per job (max)": max(attempts),
        "return to drained (s)": round(max(j.updated_at.timestamp() for j in finished) - back, 1) if finished else None,
    }


def table(title: str, rows: dict[str, Any]) -> None:
    print(f"\n{title}")
    for key, value in rows.items():
        print(f"  {key:40}{value!s:>24}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=30)
    parser.add_argument("--outage", type=float, default=20.0)
    parser.add_argument("--db-outage", type=float, default=10.0)
    parser.add_argument("--only", default="provider,takeover,republish,database")
    args = parser.parse_args()
    only = set(args.only.split(","))
    with harness.redis_url() as redis_url, harness.sandbox() as sandbox:
        if "provider" in only:
            results = [run(sandbox, redis_url, circuit=c, jobs=args.jobs, outage=args.outage) for c in (False, True)]
            print(f"Printeers down for {args.outage:g} s; {args.jobs} track_order jobs, each with 4 attempts (backoff 0.5 s..2 s)")
            keys = [k for k in results[0] if k != "circuit"]
            print(f"{'':26}" + "".join(f"{'circuit ' + r['circuit']:>24}" for r in results))
            for key in keys:
                print(f"{key:26}" + "".join(f"{', '.join(r[key]) if isinstance(r[key], list) else r[key]!s:>24}" for r in results))
            print("(recovery to drained < 0: every job had ended, failed, before the provider came back)")
        if "takeover" in only:
            table("A worker SIGKILLed mid-call (an idempotent upload)", takeover(sandbox, redis_url))
        if "republish" in only:
            table("Redis forgot (FLUSHDB) with 200 jobs queued", republish(sandbox, redis_url))
        if "database" in only:
            table(
                f"PostgreSQL cut off for {args.db_outage:g} s under 30 order submits", database_restart(sandbox, redis_url, args.db_outage)
            )


if __name__ == "__main__":
    main()
