"""Shared set-up for the benchmarks: a private Redis, the sandbox and workers as subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sandbox.server import wait_healthy
from sandbox.services import free_port, start_redis

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def redis_url() -> Iterator[str]:
    started = start_redis()
    try:
        yield started.url
    finally:
        started.stop()


def printeers_env(redis_url: str, sandbox: str, key: str, *, database: str | None = None, **settings: str) -> dict[str, str]:
    """The environment of a printrelay talking to the sandbox's Printeers with ``key`` (one
    organisation per key): ``database``, or a fresh SQLite file; ``settings`` are more
    ``PRINTRELAY_…`` names without the prefix (``RATE_LIMIT_MARGIN="0.02"``)."""
    database = database or f"sqlite:///{tempfile.mkdtemp(prefix='printrelay-bench-')}/bench.db"
    return {
        "PRINTRELAY_REDIS_URL": redis_url,
        "PRINTRELAY_DATABASE_URL": database,
        "PRINTRELAY_PRINTEERS__BASE_URL": f"{sandbox}/printeers/v2",
        "PRINTRELAY_PRINTEERS__SECRET_KEY": key,
        **{f"PRINTRELAY_{name}": value for name, value in settings.items()},
    }


def local_runtime(env: dict[str, str]) -> Any:
    """This process's printrelay runtime for ``env`` (also put into ``os.environ``), with its
    Celery app configured to match and its database migrated: the producer side of a benchmark."""
    os.environ.update(env)
    from config.celery import celery_config
    from config.settings import get_settings, use_settings

    use_settings(None)
    from worker.app import app
    from worker.runtime import reset_runtime

    app.conf.update(celery_config(get_settings()))
    runtime = reset_runtime(get_settings())
    runtime.store.upgrade()
    return runtime


def sample_design(sandbox: str) -> Path:
    """The sandbox's sample PNG, in a file of its own."""
    import httpx

    design = Path(tempfile.mkdtemp()) / "design.png"
    design.write_bytes(httpx.get(f"{sandbox}/_sandbox/files/sample.png").content)
    return design


@contextmanager
def sandbox() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    root = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(root, 20)
        yield root
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:  # a request still hanging on purpose
            process.kill()
            process.wait(10)


@contextmanager
def celery_worker(app: str, env: dict[str, str], *args: str) -> Iterator[subprocess.Popen[bytes]]:
    log = Path(tempfile.mkdtemp(prefix="printrelay-bench-")) / "worker.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                app,
                "worker",
                "--loglevel",
                "WARNING",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                *args,
            ],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        time.sleep(2.5)  # the worker connects and starts consuming
        yield process
    finally:
        stop(process, 30)


@contextmanager
def celery_beat(app: str, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """``celery beat`` with a schedule file of its own."""
    folder = Path(tempfile.mkdtemp(prefix="printrelay-bench-"))
    with (folder / "beat.log").open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", app, "beat", "--loglevel", "WARNING", "--schedule", str(folder / "schedule")],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        stop(process, 10)


@contextmanager
def postgres_database() -> Iterator[str]:
    """A database of its own on ``PRINTRELAY_BENCH_POSTGRES_URL`` (default: the server of the local
    ``test`` database), dropped at the end."""
    from sandbox.services import postgres_database as created

    with created(
        os.environ.get("PRINTRELAY_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"), "printrelay_bench"
    ) as url:
        yield url


def stop(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM (a warm shutdown), then SIGKILL after ``grace`` seconds."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
