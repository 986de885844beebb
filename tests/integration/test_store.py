"""The job store under concurrency: the claim is the lock, intake is all-or-nothing."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.conftest import RecordingPublisher
from worker.errors import InvalidPayload, UnknownAccount, UnknownProvider, UnsupportedKind
from worker.outcome import Outcome
from worker.runner import ClaimResult
from worker.runtime import Runtime
from worker.states import JobState
from worker.store import Attempt, Job

ORDER = "Order_5jcavdegg8n9pvgxq887jq0zbc"
TRACK = {"order_reference": ORDER}


def count_jobs(runtime: Runtime) -> int:
    with runtime.store.transaction() as session:
        return int(session.execute(select(func.count()).select_from(Job)).scalar_one())


def race(n: int, target: Any) -> list[Any]:
    barrier = threading.Barrier(n)
    results: list[Any] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        value = target()
        with lock:
            results.append(value)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_claims_of_one_job_exactly_one_wins(runtime: Runtime) -> None:
    for _ in range(10):
        job = runtime.intake.enqueue("track_order", "printeers", TRACK)
        results = race(6, lambda job_id=job.id: runtime.runner.claim(job_id).result)
        assert sorted(r.value for r in results) == ["claimed"] + ["not_claimable"] * 5


def test_a_job_waiting_for_later_is_not_claimed_early(runtime: Runtime) -> None:
    job = runtime.intake.enqueue("track_order", "printeers", TRACK)
    claim = runtime.runner.claim(job.id)
    assert claim.job is not None and claim.token is not None
    runtime.runner.record(claim.job, claim.token, Outcome.throttled("later", retry_after=120), started=claim.job.updated_at)
    again = runtime.runner.claim(job.id)
    assert again.result is ClaimResult.NOT_DUE
    assert again.due_in is not None and 100 < again.due_in <= 120


def test_a_late_finisher_cannot_overwrite_the_recovery(runtime: Runtime) -> None:
    job = runtime.intake.enqueue("track_order", "printeers", TRACK)
    claim = runtime.runner.claim(job.id)
    assert claim.job is not None
    with runtime.store.transaction() as session:  # recovery took the job over meanwhile
        session.get(Job, job.id).lease_token = "someone-else"  # type: ignore[union-attr]
    assert runtime.runner.record(claim.job, "stale-token", Outcome.done({"x": 1}), started=claim.job.updated_at) is None
    with runtime.store.transaction() as session:
        row = session.get(Job, job.id)
        attempts = list(session.execute(select(Attempt).where(Attempt.job_id == job.id)).scalars())
    assert row is not None and row.state == JobState.RUNNING.value and row.result is None
    assert len(attempts) == 1 and attempts[0].note is not None and "lease expired" in attempts[0].note


def test_an_invalid_payload_stores_and_publishes_nothing(runtime: Runtime, publisher: RecordingPublisher) -> None:
    before = count_jobs(runtime)
    with pytest.raises(InvalidPayload) as caught:
        runtime.intake.enqueue("cancel_order", "printeers", {"order_reference": ORDER})  # orderlines missing
    assert caught.value.field == "orderlines"
    with pytest.raises(UnknownProvider):
        runtime.intake.enqueue("track_order", "acme", TRACK)
    with pytest.raises(UnsupportedKind, match="printeers does not support 'poll_print_file'"):
        runtime.intake.enqueue("poll_print_file", "printeers", {"order_id": "1"})
    with pytest.raises(UnknownAccount):
        runtime.intake.enqueue("track_order", "printeers", TRACK, account="nobody")
    assert count_jobs(runtime) == before
    assert publisher.published == []


def test_the_same_idempotency_key_returns_the_same_job_even_under_a_race(runtime: Runtime, publisher: RecordingPublisher) -> None:
    jobs = race(8, lambda: runtime.intake.enqueue("track_order", "printeers", TRACK, idempotency_key="track-1"))
    assert len({job.id for job in jobs}) == 1
    assert len(publisher.published) == 1
    # the key is per kind, provider and account
    other = runtime.intake.enqueue(
        "cancel_order",
        "printeers",
        {"order_reference": ORDER, "orderlines": [{"index": 1, "canceledQuantity": 1}]},
        idempotency_key="track-1",
    )
    assert other.id != jobs[0].id


def test_a_job_whose_publish_failed_is_kept_queued(runtime: Runtime) -> None:
    class Broken:
        def publish(self, *args: Any, **kwargs: Any) -> None:
            raise ConnectionError("redis is down")

    working = runtime.intake.publisher
    runtime.intake.publisher = Broken()
    job = runtime.intake.enqueue("track_order", "printeers", TRACK)
    assert job.state == "queued"
    with runtime.store.transaction() as session:
        row = session.get(Job, job.id)
        # kept queued, and marked unpublished (queued_at NULL) for beat's next tick
        assert row is not None and row.state == "queued" and row.queued_at is None

    from worker import maintenance

    runtime.intake.publisher = working
    assert isinstance(working, RecordingPublisher)
    assert maintenance.publish_unpublished(runtime) >= 1
    assert job.id in {job_id for job_id, *_ in working.published}
    with runtime.store.transaction() as session:
        row = session.get(Job, job.id)
        assert row is not None and row.state == "queued" and row.queued_at is not None


def test_jobs_are_listed_by_account(make_settings: Any, publisher: RecordingPublisher, redis_url: str) -> None:
    from worker.queries import list_jobs
    from worker.runtime import reset_runtime

    runtime = reset_runtime(
        make_settings(redis_url=redis_url, printeers={"accounts": {"shop2": {"secret_key": "sk_shop2_key"}}}), publisher
    )
    mine = runtime.intake.enqueue("track_order", "printeers", {"order_reference": "Order_" + "a" * 26}, account="shop2")
    runtime.intake.enqueue("track_order", "printeers", {"order_reference": "Order_" + "b" * 26})
    assert [job.id for job in list_jobs(account="shop2", provider="printeers", runtime=runtime)] == [mine.id]
    assert mine.id in {job.id for job in list_jobs(provider="printeers", limit=1000, runtime=runtime)}
