"""Pausing and resuming a provider account (CONTRACT.md, "Providers"), with a real worker and the
sandbox: held jobs wait without attempts (``waiting_for: provider``) and go on when resumed or
when the pause runs out. Each test pauses an account of its own, never ``default``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import Sandbox
from worker.admin import Admin
from worker.jobview import JobInfo
from worker.metrics import JobsCollector
from worker.queries import get_job
from worker.runtime import Runtime, reset_runtime
from worker.store import ProviderEvent


@pytest.fixture
def account() -> str:
    return f"shop{uuid.uuid4().hex[:10]}"


@pytest.fixture
def track() -> dict[str, str]:
    """An order of the test's own: the sandbox's request log is shared by the whole run."""
    return {"order_reference": f"Order_{uuid.uuid4().hex[:26]}"}


@pytest.fixture
def shop(make_settings: Any, live: Runtime, account: str, redis_url: str) -> Iterator[Runtime]:
    runtime = reset_runtime(make_settings(redis_url=redis_url, printeers={"accounts": {account: {}}}))
    yield runtime
    Admin(runtime).resume("printeers", account, actor="test cleanup")


def until(runtime: Runtime, job_id: str, predicate: Callable[[JobInfo], bool], timeout: float = 20) -> JobInfo:
    deadline = time.monotonic() + timeout
    while True:
        job = get_job(job_id, runtime=runtime)
        if predicate(job) or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


def cli(runtime: Runtime, *args: str) -> subprocess.CompletedProcess[str]:
    settings = runtime.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRINTRELAY_")}
    account = next(iter(settings.printeers.accounts))
    env.update(
        PRINTRELAY_REDIS_URL=settings.redis_url,
        PRINTRELAY_DATABASE_URL=settings.database_url,
        COLUMNS="250",  # wide enough for the table's whole cells
        **{f"PRINTRELAY_PRINTEERS__ACCOUNTS__{account.upper()}__CONNECT_TIMEOUT": "5"},
    )
    return subprocess.run([sys.executable, "-m", "worker.cli", *args], env=env, capture_output=True, text=True, timeout=60)


def test_a_paused_account_holds_its_jobs_without_attempts_and_a_resume_releases_them(
    track: dict[str, str], shop: Runtime, sandbox: Sandbox, account: str
) -> None:
    admin = Admin(shop)
    paused = admin.pause("printeers", account, seconds=None, reason="their maintenance", actor="test")
    assert paused["paused"]["reason"] == "their maintenance" and paused["paused"]["until"] is None
    job = shop.intake.enqueue("track_order", "printeers", track, account=account)
    held = until(shop, job.id, lambda j: j.state == "waiting")
    assert held.state == "waiting" and held.to_dict()["waiting_for"] == "provider"
    assert held.attempts == [] and held.attempt_count == 0  # no attempt, no budget spent
    assert not [r for r in sandbox.requests() if track["order_reference"] in r["path"]]  # not called

    metrics = {m.name: m for m in JobsCollector(shop.store, shop.limiter.client).collect()}
    assert [s.value for s in metrics["printrelay_provider_paused"].samples if s.labels["account"] == account] == [1]
    assert [s.value for s in metrics["printrelay_jobs_held"].samples if s.labels["account"] == account] == [1]

    other = shop.intake.enqueue("track_order", "printeers", track)  # the default account is not paused
    assert until(shop, other.id, lambda j: j.finished).state != "waiting"

    resumed = admin.resume("printeers", account, actor="test")
    assert resumed["released"] == 1
    done = until(shop, job.id, lambda j: j.finished)
    assert [a.outcome for a in done.attempts or []] == ["permanent"]  # called now (the sandbox has no such order)
    with shop.store.transaction() as session:
        events = session.execute(select(ProviderEvent.action, ProviderEvent.actor).where(ProviderEvent.account == account)).all()
    assert [tuple(e) for e in events] == [("pause", "test"), ("resume", "test")]


def test_a_pause_that_runs_out_lets_its_jobs_go_on_by_themselves(
    track: dict[str, str], shop: Runtime, sandbox: Sandbox, account: str
) -> None:
    Admin(shop).pause("printeers", account, seconds=1.5, reason=None, actor="test")
    job = shop.intake.enqueue("track_order", "printeers", track, account=account)
    held = until(shop, job.id, lambda j: j.state == "waiting")
    assert held.to_dict()["waiting_for"] == "provider" and held.next_attempt_at is not None
    done = until(shop, job.id, lambda j: j.finished, timeout=15)
    assert done.finished and len(done.attempts or []) == 1


def test_a_transient_failure_waits_for_a_retry(track: dict[str, str], shop: Runtime, sandbox: Sandbox) -> None:
    sandbox.fault(kind="status", status=500, method="GET", path=f"/orders/{track['order_reference']}")
    job = shop.intake.enqueue("track_order", "printeers", track)
    waiting = until(shop, job.id, lambda j: j.state == "waiting" and bool(j.attempts))
    assert waiting.to_dict()["waiting_for"] == "retry"


def test_the_cli_and_the_admin_tasks_pause_show_and_resume(
    track: dict[str, str], shop: Runtime, sandbox: Sandbox, account: str, celery_app: Any
) -> None:
    done = cli(shop, "providers", "pause", "printeers", "--account", account, "--for", "1h", "--reason", "carrier strike")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"paused printeers/{account} until 20")
    listed = json.loads(cli(shop, "providers", "--json").stdout)
    row = next(r for r in listed if r["provider"] == "printeers" and r["account"] == account)
    assert row["paused"]["reason"] == "carrier strike" and row["paused"]["by"].startswith("cli:")
    assert set(row["buckets"]) == {"default", "uploads", "downloads"}
    table = cli(shop, "providers")
    assert table.returncode == 0 and "carrier strike" in table.stdout and account in table.stdout

    job = shop.intake.enqueue("track_order", "printeers", track, account=account)
    until(shop, job.id, lambda j: j.state == "waiting")
    assert json.loads(cli(shop, "providers", "--json").stdout) != listed  # it now holds a job
    held = next(r for r in json.loads(cli(shop, "providers", "--json").stdout) if r["account"] == account)
    assert held["held"] == 1

    celery_app.send_task("printrelay.admin.resume_provider", args=["printeers", account])
    assert until(shop, job.id, lambda j: j.finished).finished
    celery_app.send_task("printrelay.admin.pause_provider", args=["printeers", account], kwargs={"seconds": 60, "reason": "by task"})
    deadline = time.monotonic() + 10
    while (pause := shop.holds.all().get(("printeers", account))) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pause is not None and pause.reason == "by task" and pause.actor.startswith("task from ")

    refused = cli(shop, "providers", "pause", "acme")
    assert refused.returncode == 2 and "unknown_provider" in refused.stderr
    resumed = cli(shop, "providers", "resume", "printeers", "--account", account)
    assert resumed.returncode == 0 and "resumed" in resumed.stdout
