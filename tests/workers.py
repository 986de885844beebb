"""Real printrelay processes for the tests that kill, cut off or outlive them: ``printrelay
worker`` and ``printrelay beat`` as subprocesses with an environment of the test's choosing, a
publisher that talks to a Redis database of the test's own, and the waits such tests need."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from celery import Celery

from config.celery import queue_for
from config.settings import Settings
from worker.queries import get_job
from worker.runtime import Runtime

ROOT = Path(__file__).resolve().parents[1]


class BrokerPublisher:
    """Publishes to the test's private Redis database (not the in-process worker's)."""

    def __init__(self, url: str) -> None:
        self.app = Celery("publisher", broker=url)
        self.app.conf.update(task_serializer="json", broker_connection_retry_on_startup=True)

    def publish(self, job_id: str, kind: str, provider: str, *, countdown: float | None = None) -> None:
        self.app.send_task(f"printrelay.{kind}", kwargs={"job_id": job_id}, queue=queue_for(provider), countdown=countdown)


def environment(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a printrelay process that sees what ``settings`` say of Redis, the
    database and Printeers, plus ``extra`` (``PRINTRELAY_…`` names)."""
    printeers: Any = settings.provider("printeers")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRINTRELAY_")}
    env.update(
        PRINTRELAY_REDIS_URL=settings.redis_url,
        PRINTRELAY_DATABASE_URL=settings.database_url,
        PRINTRELAY_PRINTEERS__BASE_URL=str(printeers.base_url),
        PRINTRELAY_PRINTEERS__SECRET_KEY=printeers.secret_key.get_secret_value(),
        PRINTRELAY_PRINTEERS__READ_TIMEOUT="30",
    )
    env.update(extra)
    return env


class Processes:
    """Starts printrelay commands; every one still running is killed at the end."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.started: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = self.logs / f"{args[0]}-{len(self.started)}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "worker.cli", *args], cwd=ROOT, env=env or self.env, stdout=output, stderr=subprocess.STDOUT
            )
        self.started.append((process, log))
        if args[0] == "worker":
            wait_for_log(log, "ready")
        return process

    def log_of(self, process: subprocess.Popen[bytes]) -> str:
        return next(log for p, log in self.started if p is process).read_text(errors="replace")

    def stop(self) -> None:
        for process, _ in self.started:
            if process.poll() is None:
                process.kill()
                process.wait(10)


@contextmanager
def processes(env: dict[str, str], logs: Path) -> Iterator[Processes]:
    started = Processes(env, logs)
    try:
        yield started
    finally:
        started.stop()


def wait_for_log(path: Path, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text(errors="replace"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path.name} never said {text!r}:\n{path.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)


def wait_state(runtime: Runtime, job_id: str, state: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while get_job(job_id, attempts=False, runtime=runtime).state != state:
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} never reached {state}")
        time.sleep(0.05)


def wait_until(predicate: Any, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(interval)


@contextmanager
def console_server(settings: Settings, logs: Path, **extra: str) -> Iterator[str]:
    """``printrelay console`` on a free port, seeing ``settings``' Redis, database and Printeers
    (plus ``extra``); its root URL once it answers."""
    import httpx

    from sandbox.services import free_port

    port = free_port()
    env = environment(settings, **extra)
    with processes(env, logs) as started:
        process = started.start("console", "--port", str(port))
        root = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(root, timeout=1)
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the console did not start:\n{started.log_of(process)[-2000:]}") from None
                time.sleep(0.1)
        yield root
