"""Forgetting in time (worker.retention): purge and scrub on SQLite and PostgreSQL, what they keep,
a run over 100 000 finished jobs in bounded batches, and the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from worker import maintenance, retention
from worker.admin import Admin, NotAllowed
from worker.privacy import SCRUBBED
from worker.runtime import Runtime, reset_runtime
from worker.store import Artifact, Attempt, Dependency, Job, JobReference
from worker.store.types import utcnow

OLD = timedelta(days=120)
ADDRESS = {"firstname": "John", "lastname": "Doe", "streetname": "Koelmalaan", "city": "Aalsmeer", "email": "john@example.com"}


def add_job(runtime: Runtime, state: str, *, age: timedelta, payload: dict[str, Any] | None = None, kind: str = "submit_order") -> str:
    job_id = str(uuid.uuid4())
    when = utcnow() - age
    with runtime.store.transaction() as session:
        session.add(
            Job(
                id=job_id,
                kind=kind,
                provider="printeers",
                account="default",
                state=state,
                payload=payload or {"order": {"customIdentifier": f"c-{job_id[:8]}", "dropshipAddress": ADDRESS, "orderlines": []}},
                attempt_count=1,
                budget_used=0,
                created_at=when,
                updated_at=when,
            )
        )
        session.flush()
        session.add(Attempt(job_id=job_id, number=1, outcome="done", started_at=when, finished_at=when))
        session.add(JobReference(job_id=job_id, value=f"c-{job_id[:8]}", source="payload"))
    return job_id


def depends(runtime: Runtime, job_id: str, on: str) -> None:
    with runtime.store.transaction() as session:
        session.add(Dependency(job_id=job_id, depends_on=on))


def exists(runtime: Runtime, job_id: str) -> bool:
    with runtime.store.transaction() as session:
        return session.get(Job, job_id) is not None


def test_purge_deletes_old_finished_jobs_and_keeps_what_is_still_needed(runtime: Runtime, tmp_path: Path) -> None:
    old = {state: add_job(runtime, state, age=OLD) for state in ("succeeded", "failed", "canceled", "skipped")}
    recent = add_job(runtime, "succeeded", age=timedelta(days=10))
    unfinished = {state: add_job(runtime, state, age=OLD) for state in ("queued", "waiting", "blocked", "running")}
    reviewed = add_job(runtime, "needs_review", age=OLD)
    needed = add_job(runtime, "succeeded", age=OLD)  # an upload a blocked job still needs
    depends(runtime, unfinished["blocked"], on=needed)
    done_with = add_job(runtime, "succeeded", age=OLD)  # its dependent finished too: both go
    depends(runtime, old["failed"], on=done_with)
    artifact = runtime.settings.artifact_dir / "old.zip"
    artifact.parent.mkdir(parents=True, exist_ok=True)
    artifact.write_bytes(b"PK")
    with runtime.store.transaction() as session:
        session.add(Artifact(job_id=old["succeeded"], provider="printeers", path=str(artifact.resolve()), sha256="0" * 64, size=2))

    before = utcnow() - timedelta(days=90)
    assert retention.purge(runtime.store, before=before, dry_run=True).jobs >= 5
    purged = retention.purge(runtime.store, before=before, batch=2, artifact_dir=runtime.settings.artifact_dir)
    assert purged.jobs >= 5 and purged.batches >= 3  # two per transaction

    assert not any(exists(runtime, job_id) for job_id in [*old.values(), done_with])
    assert all(exists(runtime, job_id) for job_id in [recent, *unfinished.values(), reviewed, needed])
    assert not artifact.exists()  # its stored file went with it
    with runtime.store.transaction() as session:  # attempts, references, links went by cascade
        gone = [*old.values(), done_with]
        assert session.execute(select(func.count()).select_from(Attempt).where(Attempt.job_id.in_(gone))).scalar_one() == 0
        assert session.execute(select(func.count()).select_from(JobReference).where(JobReference.job_id.in_(gone))).scalar_one() == 0
        assert session.execute(select(func.count()).select_from(Dependency).where(Dependency.depends_on == done_with)).scalar_one() == 0
    assert retention.purge(runtime.store, before=before, dry_run=True).jobs == 0


def test_scrub_replaces_customer_data_and_a_scrubbed_job_cannot_be_replayed(runtime: Runtime) -> None:
    old = add_job(runtime, "succeeded", age=timedelta(days=40))
    young = add_job(runtime, "succeeded", age=timedelta(days=5))
    reviewed = add_job(runtime, "needs_review", age=timedelta(days=40))
    tracked = add_job(runtime, "failed", age=timedelta(days=40), payload={"order_reference": "Order_x"}, kind="track_order")
    now = utcnow()
    assert retention.scrub(runtime.store, runtime.runner.adapters, before=now - timedelta(days=30), now=now, batch=1) >= 2
    with runtime.store.transaction() as session:
        scrubbed = session.get(Job, old)
        kept = session.get(Job, young)
        review = session.get(Job, reviewed)
        track = session.get(Job, tracked)
        assert scrubbed is not None and kept is not None and review is not None and track is not None
        address = scrubbed.payload["order"]["dropshipAddress"]
        assert set(address.values()) == {SCRUBBED} and set(address) == set(ADDRESS)  # the shape stays, the data goes
        assert scrubbed.payload["order"]["customIdentifier"] == f"c-{old[:8]}"  # the shop's own id stays
        assert scrubbed.scrubbed_at is not None
        assert kept.payload["order"]["dropshipAddress"] == ADDRESS and kept.scrubbed_at is None
        assert review.payload["order"]["dropshipAddress"] == ADDRESS  # under review: kept as it is
        assert track.payload == {"order_reference": "Order_x"} and track.scrubbed_at is not None  # nothing to scrub
    with pytest.raises(NotAllowed, match="scrubbed"):
        Admin(runtime).replay(old, actor="test", force=True)
    assert Admin(runtime).retry(tracked, actor="test").state == "queued"  # nothing of it was scrubbed


def test_beats_retention_tick_follows_the_settings(make_settings: Any, publisher: Any, redis_url: str) -> None:
    runtime = reset_runtime(make_settings(redis_url=redis_url, retention={"finished_days": 60, "scrub_days": 20}), publisher)
    goes = add_job(runtime, "succeeded", age=timedelta(days=61))
    scrubbed = add_job(runtime, "succeeded", age=timedelta(days=21))
    stays = add_job(runtime, "succeeded", age=timedelta(days=19))
    assert maintenance.retention(runtime) >= 2
    assert not exists(runtime, goes) and exists(runtime, scrubbed) and exists(runtime, stays)
    with runtime.store.transaction() as session:
        assert session.get(Job, scrubbed).scrubbed_at is not None  # type: ignore[union-attr]
        assert session.get(Job, stays).scrubbed_at is None  # type: ignore[union-attr]
    off = reset_runtime(make_settings(redis_url=redis_url, retention={"finished_days": 0, "scrub_days": 0}), publisher)
    kept = add_job(off, "succeeded", age=timedelta(days=400))
    maintenance.retention(off)
    assert exists(off, kept)


def test_jobs_purge_on_the_command_line(runtime: Runtime) -> None:
    old = add_job(runtime, "succeeded", age=timedelta(days=200))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRINTRELAY_")}
    env.update(PRINTRELAY_REDIS_URL=runtime.settings.redis_url, PRINTRELAY_DATABASE_URL=runtime.settings.database_url)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "worker.cli", "jobs", "purge", *args], env=env, capture_output=True, text=True)

    dry = cli("--finished-before", "180d", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["dry_run"] is True and json.loads(dry.stdout)["jobs"] >= 1
    assert exists(runtime, old)
    done = cli("--finished-before", "180d")
    assert done.returncode == 0 and "deleted" in done.stdout, done.stderr
    assert not exists(runtime, old)
    bad = cli("--finished-before", "soon")
    assert bad.returncode != 0 and "finished-before" in bad.stderr


@pytest.mark.slow
def test_a_purge_of_100000_finished_jobs_stays_in_bounded_batches(runtime: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    """100 000 finished jobs with an attempt each: 100 transactions of 1000, none of them long."""
    count, batch = 100_000, 1000
    when = utcnow() - OLD
    ids = [str(uuid.uuid4()) for _ in range(count)]
    started = time.monotonic()
    for start in range(0, count, 10_000):
        chunk = ids[start : start + 10_000]
        with runtime.store.transaction() as session:
            session.execute(
                insert(Job),
                [
                    {
                        "id": job_id,
                        "kind": "track_order",
                        "provider": "printeers",
                        "account": "bulk",
                        "state": "succeeded",
                        "payload": {"order_reference": "Order_bulk"},
                        "attempt_count": 1,
                        "budget_used": 0,
                        "created_at": when,
                        "updated_at": when,
                    }
                    for job_id in chunk
                ],
            )
            session.execute(
                insert(Attempt),
                [{"job_id": job_id, "number": 1, "outcome": "done", "started_at": when, "finished_at": when} for job_id in chunk],
            )
    filled = time.monotonic() - started

    done = retention.purge(runtime.store, before=utcnow() - timedelta(days=90), batch=batch)
    with runtime.store.transaction() as session:
        left = session.execute(select(func.count()).select_from(Job).where(Job.account == "bulk")).scalar_one()
        attempts = session.execute(select(func.count()).select_from(Attempt).where(Attempt.job_id.in_(ids[:1000]))).scalar_one()
    assert left == 0 and attempts == 0
    assert done.jobs >= count and done.batches == -(-done.jobs // batch)  # never more than `batch` a transaction
    with capsys.disabled():
        print(
            f"\n[{runtime.store.engine.dialect.name}] purged {done.jobs} jobs (and as many attempts) in {done.batches} batches of "
            f"{batch}: {done.seconds:.1f} s, {done.seconds / done.batches * 1000:.0f} ms a batch (filling took {filled:.1f} s)"
        )
