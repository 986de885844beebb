"""``printrelay demo``: printrelay working end to end on one machine, with nothing set up.

Starts what is missing (a Redis server, the sandbox, a worker with embedded beat), creates
the SQLite store under ``./var``, runs a small Printeers scenario against the sandbox, and
prints how every job ended. Everything it started is stopped again on the way out.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()
STORE = "Store_9jmn3dewwvy13rv12k7aannqzy"
PRODUCT = "Product_4j8k2m5n7p9q1r3s6t8v0w2x4y"


def run_demo(*, keep_serving: bool) -> int:
    from sandbox.server import BackgroundSandbox
    from worker.services import free_port, redis_answers, start_redis

    with ExitStack() as stack:
        redis_url = os.environ.get("PRINTRELAY_REDIS_URL", "redis://127.0.0.1:6379/0")
        if not redis_answers(redis_url):
            started = start_redis()
            stack.callback(started.stop)
            redis_url = started.url
            console.print(f"started a Redis server at {redis_url}")
        else:
            console.print(f"using the Redis server at {redis_url}")

        port = free_port()
        sandbox = BackgroundSandbox(port=port).start()
        stack.callback(sandbox.stop)
        console.print(f"started the provider sandbox at {sandbox.root}")

        env = {
            "PRINTRELAY_REDIS_URL": redis_url,
            "PRINTRELAY_PRINTEERS__BASE_URL": f"{sandbox.root}/printeers/v2",
            "PRINTRELAY_PRINTEERS__SECRET_KEY": os.environ.get("PRINTRELAY_DEMO_PRINTEERS_KEY", "sk_demo_printrelay"),
        }
        os.environ.update(env)
        from config.celery import celery_config
        from config.settings import get_settings, use_settings

        use_settings(None)
        settings = get_settings()
        from worker.app import app
        from worker.runtime import reset_runtime

        app.conf.update(celery_config(settings))
        runtime = reset_runtime(settings)
        runtime.store.upgrade()
        console.print(f"job store: {runtime.store.engine.url.render_as_string(hide_password=True)}")

        log_path = Path("var") / "demo-worker.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = stack.enter_context(log_path.open("ab"))
        worker = subprocess.Popen(
            [sys.executable, "-m", "worker.cli", "worker", "--concurrency", "8", "--beat", "--schedule", "var/celerybeat-schedule"],
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        stack.callback(_stop, worker)
        console.print(f"started a worker (log: {log_path})\n")

        outcome = _scenario(runtime, sandbox.root)
        if keep_serving:
            console.print(
                "\nstill serving: try `printrelay jobs list` in another shell (with the same PRINTRELAY_REDIS_URL). Ctrl-C stops."
            )
            for name, value in env.items():
                console.print(f"  export {name}={value}")
            try:
                while worker.poll() is None:
                    time.sleep(0.5)
            except KeyboardInterrupt:
                console.print("stopping…")
        return outcome


def _scenario(runtime: Any, sandbox_root: str) -> int:
    import httpx

    from worker.queries import get_job, wait_for

    design = Path("var") / "demo" / "design.png"
    design.parent.mkdir(parents=True, exist_ok=True)
    design.write_bytes(httpx.get(f"{sandbox_root}/_sandbox/files/sample.png").content)
    copy = design.with_name("design-again.png")
    copy.write_bytes(design.read_bytes())

    jobs: list[tuple[str, str, str]] = []  # (label, job id, expected state)

    def run(label: str, kind: str, payload: dict[str, Any], expected: str = "succeeded") -> Any:
        job = runtime.intake.enqueue(kind, "printeers", payload)
        console.print(f"enqueued {label}: {kind} {job.id}")
        done = wait_for(job.id, timeout=60, runtime=runtime)
        jobs.append((label, job.id, expected))
        return done

    upload = run("print image", "upload_image", {"source": str(design)})
    run("the same image again (not sent twice)", "upload_image", {"source": str(copy)})
    reference = (upload.result or {}).get("image_reference")
    order = {
        "order": {
            "storeReference": STORE,
            "shippingKind": "combined",
            "customIdentifier": f"demo-{int(time.time())}",
            "orderlines": [{"productReference": PRODUCT, "imageReference": reference, "quantity": 2}],
        }
    }
    httpx.post(
        f"{sandbox_root}/_sandbox/knobs/printeers",
        json={"faults": [{"kind": "throttle", "retry_after": 2, "method": "POST", "path": "/orders"}]},
    )
    run("order (the sandbox throttles it once)", "submit_order", order)

    table = Table(title="how every job ended", header_style="bold")
    for column in ("job", "id", "state", "attempts", "result or error"):
        table.add_column(column, overflow="fold")
    failures = 0
    for label, job_id, expected in jobs:
        job = get_job(job_id, runtime=runtime)
        attempts = ", ".join(f"{a.outcome}{f' {a.http_status}' if a.http_status else ''}" for a in job.attempts or [])
        detail = json.dumps(job.result) if job.result else (f"{job.error['code']}: {job.error['message']}" if job.error else "")
        colour = "green" if job.state == expected else "red"
        failures += job.state != expected
        table.add_row(label, job.id, f"[{colour}]{job.state}[/]", attempts, detail)
    console.print(table)
    console.print("look closer: printrelay jobs show JOB_ID")
    return 1 if failures else 0


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
