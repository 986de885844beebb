"""The circuit per provider account (worker.circuit), with a real worker and the sandbox's outage
knob: calls that keep failing across jobs open it, the account's jobs are held without attempts,
one probe at a time checks, and when the provider answers the held jobs go on by themselves."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import Sandbox
from worker.circuit import Circuit, provider_down
from worker.outcome import Outcome
from worker.queries import get_job
from worker.runtime import Runtime, reset_runtime
from worker.states import OutcomeKind
from worker.store import Job

CIRCUIT = {"failures": 3, "jobs": 2, "window": 30, "probe_min": 0.5, "probe_max": 1.0}


@pytest.fixture
def account() -> str:
    return f"shop{uuid.uuid4().hex[:10]}"


@pytest.fixture
def shop(make_settings: Any, live: Runtime, account: str, redis_url: str) -> Iterator[Runtime]:
    runtime = reset_runtime(
        make_settings(
            redis_url=redis_url,
            printeers={"accounts": {account: {}}},
            circuit=CIRCUIT,
            retry={"track_order": {"base": 0.3, "cap": 1.0}},
        )
    )
    yield runtime


def track() -> dict[str, str]:
    return {"order_reference": f"Order_{uuid.uuid4().hex[:26]}"}


def test_an_outage_opens_the_circuit_holds_the_jobs_and_a_probe_closes_it(shop: Runtime, sandbox: Sandbox, account: str) -> None:
    sandbox.knobs("printeers", outage_until=time.time() + 4)
    jobs = [shop.intake.enqueue("track_order", "printeers", track(), account=account).id for _ in range(6)]

    deadline = time.monotonic() + 15
    while shop.circuit.status("printeers", account).state != "open" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert shop.circuit.status("printeers", account).state == "open"
    while time.monotonic() < deadline and not any(get_job(j, runtime=shop).to_dict().get("waiting_for") == "provider" for j in jobs):
        time.sleep(0.05)
    assert any(get_job(j, runtime=shop).to_dict().get("waiting_for") == "provider" for j in jobs)  # held, not retrying

    finished = [_finished(shop, j) for j in jobs]
    assert all(j.state == "failed" and j.error and j.error["code"] == "order_not_found" for j in finished), [j.to_dict() for j in finished]
    assert shop.circuit.status("printeers", account).state == "closed"
    failed_calls = sum(1 for j in finished for a in j.attempts or [] if a.outcome == "transient")
    # without the circuit each of the 6 jobs retries on its own through the 4 s outage; with it,
    # the calls during the outage are the 3 that opened it, the few on their way, and one probe
    # at a time (every 0.5-1 s)
    assert failed_calls <= 3 + 6 + 8, failed_calls
    # no job spent its budget on the outage: only the failures before the circuit opened count
    # (a probe's failure is the circuit's, and a held job makes no attempt)
    with shop.store.transaction() as session:
        budgets = dict(session.execute(select(Job.id, Job.budget_used).where(Job.id.in_(jobs))).all())
    assert max(budgets.values()) <= 2 and sum(budgets.values()) <= 3 + 6, budgets


def test_one_jobs_own_failures_never_open_the_circuit(shop: Runtime, account: str) -> None:
    circuit = Circuit(shop.limiter.client, shop.settings.circuit)
    down = Outcome.transient("connect_failed", "refused")
    for _ in range(10):
        assert circuit.record("printeers", account, "the-same-job", down) is None
    assert circuit.status("printeers", account).state == "closed"
    assert circuit.record("printeers", account, "another-job", down) == "opened"
    assert circuit.gate("printeers", account, "a-third-job") is not None  # held until the first probe
    time.sleep(0.6)
    assert circuit.gate("printeers", account, "the-probe") is None  # the probe goes
    assert circuit.gate("printeers", account, "not-a-second-probe") is not None
    answered = Outcome.permanent("order_not_found", "no such order", http_status=404)
    assert circuit.record("printeers", account, "the-probe", answered) == "closed"
    assert circuit.gate("printeers", account, "anyone") is None


@pytest.mark.parametrize(
    ("outcome", "down"),
    [
        (Outcome.transient("connect_failed", "refused"), True),
        (Outcome.transient("timeout", "no answer"), True),
        (Outcome.transient("http_503", "HTML", http_status=503), True),
        (Outcome.throttled("slow down", retry_after=3.0), False),
        (Outcome.transient("http_503", "back soon", http_status=503, retry_after=30.0), False),
        (Outcome.permanent("order_not_found", "no", http_status=404), False),
        (Outcome.done({}, http_status=200), False),
        (Outcome.transient("internal_error", "an adapter bug"), None),
        (Outcome(OutcomeKind.CRASHED, error_code="worker_lost"), None),
    ],
)
def test_what_counts_as_a_provider_that_is_down(outcome: Outcome, down: bool | None) -> None:
    """5xx without Retry-After, timeouts and refused connections; any answer is not; printrelay's
    own trouble says nothing about the provider."""
    assert provider_down(outcome) is down


def _finished(runtime: Runtime, job_id: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        job = get_job(job_id, runtime=runtime)
        if job.finished or time.monotonic() > deadline:
            return job
        time.sleep(0.1)
