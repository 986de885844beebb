"""Fixtures shared by every test: services (started when missing), settings, a runtime, a worker."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

# The Celery app reads its broker from the settings at import: keep it off any real database
# until the fixtures below point it at this run's own Redis database.
os.environ.setdefault("PRINTRELAY_REDIS_URL", "redis://127.0.0.1:1/0")

from config.celery import celery_config
from config.settings import Settings
from sandbox.app import prefixes
from tests import services
from worker.adapters.registry import providers
from worker.runtime import Runtime, reset_runtime
from worker.store import Store


class RecordingPublisher:
    """A publisher for tests that run the runner by hand: remembers what would have gone to Celery."""

    def __init__(self) -> None:
        self.published: list[tuple[str, str, str, float | None]] = []
        self.notifications: list[tuple[str, dict[str, Any], str]] = []

    def publish(self, job_id: str, kind: str, provider: str, *, countdown: float | None = None) -> None:
        self.published.append((job_id, kind, provider, countdown))

    def send_notification(self, task: str, job: dict[str, Any], queue: str) -> None:
        self.notifications.append((task, job, queue))


@pytest.fixture(scope="session")
def redis_root() -> Iterator[str]:
    with services.redis_server() as root:
        yield root


@pytest.fixture(scope="session")
def redis_url(redis_root: str) -> Iterator[str]:
    """This run's Redis database: the in-process worker's broker."""
    with services.redis_database(redis_root) as url:
        yield url


@pytest.fixture
def private_redis_url(redis_root: str) -> Iterator[str]:
    """A Redis database no in-process worker listens to, for tests that run worker processes."""
    with services.redis_database(redis_root) as url:
        yield url


@pytest.fixture(scope="session")
def sandbox_url() -> Iterator[str]:
    with services.sandbox_process() as root:
        yield root


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'printrelay.db'}"
    Store(url).upgrade()
    return url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with services.postgres_database() as url:
        Store(url).upgrade()
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test that takes this runs once on SQLite and once on PostgreSQL."""
    return str(request.getfixturevalue({"sqlite": "sqlite_url", "postgresql": "postgres_url"}[request.param]))


@contextmanager
def _database_of_its_own(database_url: str, tmp_path: Path, name: str) -> Iterator[str]:
    """An empty database of one test, on the same server as ``database_url`` (dropped after)."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / f'{name}.db'}"
        return
    from sandbox.services import postgres_database

    with postgres_database(database_url, f"printrelay_test_{name}") as url:
        yield url


@pytest.fixture
def own_database_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A database of this test alone, on the same server as ``database_url``: for tests that run
    beat, which republishes every queued job it finds (other tests leave theirs in the shared one)."""
    with _database_of_its_own(database_url, tmp_path, "own") as url:
        store = Store(url)
        store.upgrade()
        store.dispose()
        yield url


@pytest.fixture
def empty_store(database_url: str, tmp_path: Path) -> Iterator[Store]:
    """A store of this test alone with no tables yet, on the same server as ``database_url``: for
    migration tests, which start from an old revision."""
    with _database_of_its_own(database_url, tmp_path, "empty") as url:
        store = Store(url, create=True)
        try:
            yield store
        finally:
            store.dispose()


@pytest.fixture
def secret_key() -> str:
    """A Printeers key of this test's own: the sandbox keeps one organisation per key."""
    return f"sk_test_{uuid.uuid4().hex}"


@pytest.fixture
def client_id(make_settings: Any) -> str:
    """This test's Print API client (the sandbox keeps one account per client id)."""
    return str(make_settings().printapi.client_id)


@pytest.fixture
def make_settings(database_url: str, sandbox_url: str, secret_key: str, tmp_path: Path) -> Any:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "redis_url": "redis://127.0.0.1:1/0",
            "database_url": database_url,
            "artifact_dir": tmp_path / "artifacts",
            "countdown_max": 30.0,
        }
        # every provider at the sandbox, with credentials of this test's own (tagged by its key)
        for name, provider in providers().items():
            if provider.sandbox is not None:
                values[name] = {**provider.sandbox.settings(f"{sandbox_url}{provider.sandbox.prefix}", secret_key), "read_timeout": 5.0}
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(values.get(key), dict):
                values[key] = {**values[key], **value}
            else:
                values[key] = value
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return make


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


def clear_buckets(redis_url: str) -> None:
    """Rate-limit buckets are shared state in Redis: each test starts with none."""
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter("printrelay:rl:*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def runtime(make_settings: Any, publisher: RecordingPublisher, redis_url: str) -> Iterator[Runtime]:
    """A runtime whose publishes are recorded, not sent: the test drives the runner itself."""
    clear_buckets(redis_url)
    runtime = reset_runtime(make_settings(redis_url=redis_url), publisher, publisher)
    yield runtime
    reset_runtime(Settings(_env_file=None, redis_url="redis://127.0.0.1:1/0"))  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def celery_app(redis_url: str) -> Any:
    import tasks.admin
    import tasks.jobs
    import tasks.maintenance  # noqa: F401
    from worker.app import app

    app.conf.update(celery_config(Settings(_env_file=None, redis_url=redis_url)))  # type: ignore[call-arg]
    return app


@pytest.fixture(scope="session")
def celery_worker(celery_app: Any) -> Iterator[Any]:
    """A real Celery worker (threads pool) in this process, consuming every printrelay queue.

    Celery's own ``celery.contrib.testing.worker.start_worker`` (what ``celery.contrib.pytest``'s
    ``celery_worker`` fixture uses), started on printrelay's real app: no Docker needed.
    """
    from celery.contrib.testing.worker import start_worker

    with start_worker(celery_app, pool="threads", concurrency=8, perform_ping_check=False, shutdown_timeout=30) as worker:
        yield worker


@pytest.fixture
def live(make_settings: Any, celery_app: Any, celery_worker: Any, redis_url: str) -> Iterator[Runtime]:
    """A runtime that publishes to the real worker through the test's Redis database."""
    clear_buckets(redis_url)
    runtime = reset_runtime(make_settings(redis_url=redis_url))
    yield runtime
    reset_runtime(Settings(_env_file=None, redis_url="redis://127.0.0.1:1/0"))  # type: ignore[call-arg]


class Sandbox:
    """The test's handle on the sandbox's control panel."""

    def __init__(self, root: str, secret_key: str) -> None:
        self.root, self.secret_key = root, secret_key
        self.http = httpx.Client(base_url=root, timeout=10)

    def knobs(self, provider: str = "printeers", **values: Any) -> dict[str, Any]:
        return dict(self.http.post(f"/_sandbox/knobs/{provider}", json=values).json())

    def fault(self, provider: str = "printeers", **fault: Any) -> None:
        self.knobs(provider, faults=[fault])

    def printeers_config(self, **values: Any) -> dict[str, Any]:
        return dict(self.http.post("/_sandbox/printeers/config", json=values).json())

    def org(self) -> dict[str, Any]:
        return dict(self.http.get("/_sandbox/printeers/org", headers={"X-Printeers-Secret-Key": self.secret_key}).json())

    def requests(self, provider: str = "printeers") -> list[dict[str, Any]]:
        return list(self.http.get("/_sandbox/requests", params={"provider": provider}).json()["requests"])

    def printapi_config(self, **values: Any) -> None:
        self.http.post("/_sandbox/printapi/config", json=values)

    def printapi_client(self, client_id: str) -> dict[str, Any]:
        return dict(self.http.get(f"/_sandbox/printapi/clients/{client_id}").json())

    def idealfactory_config(self, **values: Any) -> None:
        self.http.post("/_sandbox/idealfactory/config", json=values)

    def idealfactory_client(self) -> dict[str, Any]:
        return dict(self.http.get("/_sandbox/idealfactory/client", headers={"Authorization": f"Bearer if_{self.secret_key}"}).json())

    def printnow_config(self, **values: Any) -> None:
        self.http.post("/_sandbox/printnow/config", json=values)

    def printnow_order(self, items: int = 2) -> dict[str, Any]:
        return dict(self.http.post("/_sandbox/printnow/orders", json={"items": items}).json())

    def printnow_state(self, order_id: int) -> dict[str, Any]:
        return dict(self.http.get("/_sandbox/printnow/orders", params={"id": order_id}).json())

    def printlane_store(self, store_id: str, **values: Any) -> dict[str, Any]:
        if values:
            self.http.post("/_sandbox/printlane/stores", json={"store_id": store_id, **values})
        return dict(self.http.get(f"/_sandbox/printlane/stores/{store_id}").json())

    def file(self, name: str) -> bytes:
        return self.http.get(f"/_sandbox/files/{name}").content


@pytest.fixture
def sandbox(sandbox_url: str, secret_key: str) -> Iterator[Sandbox]:
    handle = Sandbox(sandbox_url, secret_key)
    yield handle
    for provider in prefixes():
        handle.http.post(f"/_sandbox/knobs/{provider}", json={"latency": 0, "error_rate": 0, "outage_until": 0, "clear_faults": True})
    handle.http.post("/_sandbox/printnow/config", json={"merge_seconds": 2, "retry_after_scale": 1, "no_shipped_status": False})
    handle.http.post("/_sandbox/printapi/config", json={"download_delay": 2, "ship_delay": 5, "fail_downloads": False, "token_ttl": 14399})
    handle.http.close()


@pytest.fixture
def image_file(sandbox: Sandbox, tmp_path: Path) -> Path:
    path = tmp_path / "design.png"
    path.write_bytes(sandbox.file("sample.png"))
    return path


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads a developer's .env or writes ./var in the checkout."""
    monkeypatch.chdir(tmp_path)
