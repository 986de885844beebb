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
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
