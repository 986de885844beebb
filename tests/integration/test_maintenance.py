"""Beat's maintenance: durable delays, lost workers, lost messages; and reconciling ambiguous calls."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select

from tests.conftest import RecordingPublisher
from worker import maintenance
from worker.adapters.base import Adapter, Call
from worker.outcome import Outcome
from worker.queries import get_job
from worker.runtime import Runtime
from worker.states import JobState, OutcomeKind
from worker.store import Job
from worker.store.types import utcnow

ORDER = "Order_5jcavdegg8n9pvgxq887jq0zbc"
TRACK = {"order_reference": ORDER}


def set_job(runtime: Runtime, job_id: str, **values: Any) -> None:
    with runtime.store.transaction() as session:
        job = session.get(Job, job_id)
        assert job is not None
        for key, value in values.items():
            setattr(job, key, value)


def test_dispatch_due_publishes_only_what_is_due(runtime: Runtime, publisher: RecordingPublisher) -> None:
    now = utcnow()
    due = [runtime.intake.enqueue("track_order", "printeers", TRACK).id for _ in range(2)]
    later = runtime.intake.enqueue("track_order", "printeers", TRACK).id
    for job_id in due:
        set_job(runtime, job_id, state="waiting", next_attempt_at=now - timedelta(seconds=1))
    set_job(runtime, later, state="waiting", next_attempt_at=now + timedelta(hours=1))
    publisher.published.clear()
    assert maintenance.dispatch_due(runtime) == 2
    assert sorted(p[0] for p in publisher.published) == sorted(due)
    assert {get_job(j, runtime=runtime).state for j in due} == {"queued"}
    assert get_job(later, runtime=runtime).state == "waiting"
    assert maintenance.dispatch_due(runtime) == 0  # a second tick finds nothing new


def test_requeue_lost_publishes_queued_jobs_nobody_claimed(runtime: Runtime, publisher: RecordingPublisher) -> None:
    lost = runtime.intake.enqueue("track_order", "printeers", TRACK).id
    fresh = runtime.intake.enqueue("track_order", "printeers", TRACK).id
    set_job(runtime, lost, queued_at=utcnow() - timedelta(seconds=runtime.settings.requeue_after + 1))
    publisher.published.clear()
    assert maintenance.requeue_lost(runtime) >= 1
    republished = [p[0] for p in publisher.published]
    assert lost in republished and fresh not in republished


def test_a_lost_worker_is_recovered_with_a_crashed_attempt(runtime: Runtime, publisher: RecordingPublisher) -> None:
    read = runtime.intake.enqueue("track_order", "printeers", TRACK).id
    submit = runtime.intake.enqueue(
        "submit_order",
        "printeers",
        {
            "order": {
                "storeReference": "Store_9jmn3dewwvy13rv12k7aannqzy",
                "shippingKind": "combined",
                "orderlines": [
                    {
                        "productReference": "Product_4j8k2m5n7p9q1r3s6t8v0w2x4y",
                        "imageReference": "Image_pdcptbw3k48sv03wy338bb8jzm",
                        "quantity": 1,
                    }
                ],
            }
        },
    ).id
    for job_id in (read, submit):
        assert runtime.runner.claim(job_id).token is not None
        set_job(runtime, job_id, lease_expires_at=utcnow() - timedelta(seconds=1))
    assert maintenance.recover_stale(runtime) == 2
    read_job, submit_job = get_job(read, runtime=runtime), get_job(submit, runtime=runtime)
    # a read is simply repeated; an order submit that may have happened is not
    assert read_job.state == "waiting"
    assert [(a.number, a.outcome, a.error_code) for a in read_job.attempts or []] == [(1, "crashed", "worker_lost")]
    assert submit_job.state == "needs_review"
    assert submit_job.error is not None and "not repeated blindly" in (submit_job.error["message"] or "")
    assert maintenance.recover_stale(runtime) == 0


class Reconciling(Adapter):
    """A provider whose submits have a client-chosen id: an ambiguous submit can be checked."""

    name = "printeers"
    payloads = {"track_order": BaseModel}
    reconcilable = frozenset({"track_order"})

    def __init__(self) -> None:
        self.calls: list[bool] = []

    def perform(self, call: Call) -> Outcome:
        self.calls.append(call.reconcile)
        if len(self.calls) == 1:
            return Outcome.ambiguous("timeout", "no answer")
        return Outcome.done({"found": call.reconcile})


def test_an_ambiguous_call_is_reconciled_on_the_next_attempt(runtime: Runtime, publisher: RecordingPublisher) -> None:
    fake = Reconciling()
    job = runtime.intake.enqueue("track_order", "printeers", TRACK)
    runtime.runner.adapters = {"printeers": fake}
    assert runtime.runner.run(job.id) is JobState.WAITING
    set_job(runtime, job.id, next_attempt_at=utcnow())
    assert runtime.runner.run(job.id) is JobState.SUCCEEDED
    assert fake.calls == [False, True]
    done = get_job(job.id, runtime=runtime)
    assert done.result == {"found": True}
    assert [a.outcome for a in done.attempts or []] == ["ambiguous", "done"]
    with runtime.store.transaction() as session:
        assert session.execute(select(Job.reconcile).where(Job.id == job.id)).scalar_one() is False


def test_overlapping_recoveries_record_one_crash(runtime: Runtime, publisher: RecordingPublisher) -> None:
    job = runtime.intake.enqueue("track_order", "printeers", TRACK).id
    claim = runtime.runner.claim(job)
    assert claim.job is not None and claim.token is not None
    set_job(runtime, job, lease_expires_at=utcnow() - timedelta(seconds=1))
    crashed = Outcome(OutcomeKind.CRASHED, error_code="worker_lost", error_message="gone")
    # two ticks read the same stale row; only the first may act on it
    assert runtime.runner.record(claim.job, claim.token, crashed, started=claim.job.updated_at, called=False) is JobState.WAITING
    assert runtime.runner.record(claim.job, claim.token, crashed, started=claim.job.updated_at, called=False) is None
    assert [a.outcome for a in get_job(job, runtime=runtime).attempts or []] == ["crashed"]
