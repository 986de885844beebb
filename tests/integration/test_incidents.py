"""Incidents, with real processes and the test suite's own TCP fault proxy (tests/faultproxy.py)
between printrelay and PostgreSQL, Redis and the sandbox: a database restart under load, a
worker killed while the database is away, a Redis outage (and a Redis that comes back empty),
a provider that refuses, stalls or cuts its connections. The machine's own services are never
stopped: only the proxy in front of them misbehaves."""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import select
from sqlalchemy.engine import make_url

from tests.conftest import Sandbox
from tests.faultproxy import FaultProxy
from tests.workers import BrokerPublisher, environment, processes, wait_state, wait_until
from worker.journal import PREFIX as JOURNAL
from worker.queries import get_job, wait_for
from worker.runtime import Runtime, reset_runtime
from worker.store import Job

pytestmark = pytest.mark.slow
STORE = "Store_9jmn3dewwvy13rv12k7aannqzy"
PRODUCT = "Product_4j8k2m5n7p9q1r3s6t8v0w2x4y"
ON_POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
#: for incidents that are not the database's: one database is enough
ON_SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def proxy_for(url: str) -> FaultProxy:
    parsed = make_url(url)
    return FaultProxy(parsed.host or "127.0.0.1", int(parsed.port or {"redis": 6379}.get(parsed.drivername, 5432)))


def through(url: str, proxy: FaultProxy) -> str:
    """``url`` with its host and port replaced by the proxy's."""
    return make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


def order(reference: str) -> dict[str, Any]:
    line = {"productReference": PRODUCT, "imageReference": reference, "quantity": 1}
    return {"order": {"storeReference": STORE, "shippingKind": "combined", "orderlines": [line]}}


@pytest.fixture
def producer(make_settings: Any, private_redis_url: str, own_database_url: str) -> Iterator[Runtime]:
    """The test's own printrelay (direct to its own database: beat republishes every queued job it
    finds, and other tests leave theirs in the shared one): enqueues and reads back."""
    runtime = reset_runtime(make_settings(redis_url=private_redis_url, database_url=own_database_url), BrokerPublisher(private_redis_url))
    yield runtime
    runtime.close()


def uploaded(runtime: Runtime, image_file: Path) -> str:
    upload = runtime.intake.enqueue("upload_image", "printeers", {"source": str(image_file)})
    return str((wait_for(upload.id, timeout=30, runtime=runtime).result or {})["image_reference"])


@ON_POSTGRESQL
def test_a_database_restart_under_load_loses_no_outcome(
    producer: Runtime, own_database_url: str, sandbox: Sandbox, image_file: Path, tmp_path: Path
) -> None:
    """30 order submits, the database gone for 8 s in the middle of them (every connection cut,
    new ones refused, as a restart does): every order ends succeeded with one attempt and one
    call, within 30 s of the database's return — none waits for its lease, none goes to review."""
    with proxy_for(own_database_url) as database:
        env = environment(producer.settings, PRINTRELAY_DATABASE_URL=through(own_database_url, database))
        with processes(env, tmp_path) as started:
            started.start("beat", "--schedule", str(tmp_path / "beat-schedule"))
            started.start("worker", "--concurrency", "4")
            reference = uploaded(producer, image_file)
            sandbox.knobs("printeers", latency=1.0)  # 30 calls over 4 threads: about 8 s of work
            jobs = [producer.intake.enqueue("submit_order", "printeers", order(reference)).id for _ in range(30)]

            def succeeded() -> int:
                with producer.store.transaction() as session:
                    states = session.execute(select(Job.state).where(Job.id.in_(jobs))).scalars().all()
                return sum(1 for state in states if state == "succeeded")

            wait_until(lambda: succeeded() >= 4, 30, "the first orders never succeeded")
            with database.down(8):
                pass
            back = datetime.now(UTC)
            ended = [wait_for(job_id, timeout=45, runtime=producer) for job_id in jobs]

    assert [job.state for job in ended] == ["succeeded"] * 30, [j.to_dict() for j in ended if j.state != "succeeded"]
    attempts = [get_job(job.id, runtime=producer).attempts or [] for job in ended]
    assert all([a.outcome for a in mine] == ["done"] for mine in attempts), [[a.to_dict() for a in m] for m in attempts if len(m) != 1]
    posts = [r for r in sandbox.requests("printeers") if r["method"] == "POST" and r["path"].endswith("/orders")]
    starts = sorted(a.started_at.timestamp() for mine in attempts for a in mine)
    # no order placed twice (should it ever be, say when the calls were sent and how the attempts began)
    assert sandbox.org()["orders_received"] == 30, (
        [(round(r["time"], 3), r["status"]) for r in posts if r["time"] >= starts[0] - 1],
        [round(t, 3) for t in starts],
    )
    assert max((job.updated_at - back).total_seconds() for job in ended) <= 30


@ON_POSTGRESQL
def test_an_answer_the_database_could_not_take_survives_its_worker(
    producer: Runtime, own_database_url: str, private_redis_url: str, sandbox: Sandbox, image_file: Path, tmp_path: Path
) -> None:
    """The call is answered while the database is away; the worker journals the answer in Redis
    and is then killed. The recovery records the journalled answer: succeeded, not a crash
    sent to review, and the order was placed once."""
    with proxy_for(own_database_url) as database:
        env = environment(producer.settings, PRINTRELAY_DATABASE_URL=through(own_database_url, database), PRINTRELAY_LEASE_SECONDS="3")
        with processes(env, tmp_path) as started:
            worker = started.start("worker", "--concurrency", "2")
            reference = uploaded(producer, image_file)
            sandbox.fault(kind="hang", seconds=2, method="POST", path="/orders")
            submit = producer.intake.enqueue("submit_order", "printeers", order(reference))
            wait_state(producer, submit.id, "running")
            database.refuse()  # the call is at the sandbox; its answer will find no database
            client = redis.Redis.from_url(private_redis_url)
            wait_until(lambda: any(client.scan_iter(f"{JOURNAL}:{submit.id}:*")), 20, "the answer was never journalled")
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
            database.restore()
            started.start("beat", "--schedule", str(tmp_path / "beat-schedule"))
            started.start("worker", "--concurrency", "2")
            done = wait_for(submit.id, timeout=30, runtime=producer)

    assert done.state == "succeeded", done.to_dict()
    [attempt] = get_job(submit.id, runtime=producer).attempts or []
    assert attempt.outcome == "done" and "journal" in (attempt.note or ""), attempt.to_dict()
    assert not list(client.scan_iter(f"{JOURNAL}:*"))  # recorded, so dropped
    assert sandbox.org()["orders_received"] == 1


@ON_POSTGRESQL
def test_workers_beat_and_producers_ride_out_a_redis_outage(
    make_settings: Any, private_redis_url: str, own_database_url: str, sandbox: Sandbox, image_file: Path, tmp_path: Path
) -> None:
    """Redis refused for 6 s and back empty (a restart without persistence): the worker and beat
    keep running and reconnect; jobs enqueued meanwhile are accepted (the database has them)
    and run once Redis is back, without waiting ``requeue_after``."""
    with proxy_for(private_redis_url) as broker:
        url = through(private_redis_url, broker)
        producer = reset_runtime(make_settings(redis_url=url, database_url=own_database_url), BrokerPublisher(url))
        try:
            with processes(environment(producer.settings), tmp_path) as started:
                beat = started.start("beat", "--schedule", str(tmp_path / "beat-schedule"))
                worker = started.start("worker", "--concurrency", "4")
                before = [producer.intake.enqueue("upload_image", "printeers", {"source": str(image_file)}).id for _ in range(3)]
                assert all(wait_for(j, timeout=30, runtime=producer).state == "succeeded" for j in before)

                with broker.down(6):
                    during = [producer.intake.enqueue("upload_image", "printeers", {"source": str(image_file)}).id for _ in range(5)]
                    direct = redis.Redis.from_url(private_redis_url)
                    direct.flushdb()  # it comes back empty
                    direct.set("printrelay:test-run", "flushed", ex=3600)
                back = time.monotonic()
                assert all(wait_for(j, timeout=40, runtime=producer).state == "succeeded" for j in during)
                recovered_in = time.monotonic() - back
                assert worker.poll() is None and beat.poll() is None, "a process gave up on Redis"

                after = [producer.intake.enqueue("upload_image", "printeers", {"source": str(image_file)}).id for _ in range(3)]
                assert all(wait_for(j, timeout=30, runtime=producer).state == "succeeded" for j in after)
        finally:
            producer.close()
    assert recovered_in < producer.settings.requeue_after / 10, recovered_in


@ON_SQLITE
def test_a_provider_that_stops_answering_opens_its_circuit_and_the_held_jobs_go_on(
    make_settings: Any, live: Runtime, sandbox_url: str, redis_url: str
) -> None:
    """The sandbox behind the proxy goes silent (connections accepted, nothing answered): the
    calls time out across jobs, the circuit opens and holds the account's jobs without spending
    their budget; when it answers again they all end."""
    account = f"shop{uuid.uuid4().hex[:10]}"
    with FaultProxy("127.0.0.1", int(make_url(sandbox_url).port or 80)) as provider:
        runtime = reset_runtime(
            make_settings(
                redis_url=redis_url,
                printeers={"base_url": f"http://127.0.0.1:{provider.port}/printeers/v2", "read_timeout": 0.5, "accounts": {account: {}}},
                circuit={"failures": 3, "jobs": 2, "window": 30, "probe_min": 0.5, "probe_max": 1.0},
                retry={"track_order": {"base": 0.3, "cap": 1.0}},
            )
        )
        provider.blackhole()
        jobs = [
            runtime.intake.enqueue("track_order", "printeers", {"order_reference": f"Order_{uuid.uuid4().hex[:26]}"}, account=account).id
            for _ in range(6)
        ]
        wait_until(lambda: runtime.circuit.status("printeers", account).state == "open", 20, "the circuit never opened")
        wait_until(lambda: any(get_job(j, runtime=runtime).to_dict().get("waiting_for") == "provider" for j in jobs), 10, "no job was held")
        provider.restore()
        ended = [wait_for(j, timeout=30, runtime=runtime) for j in jobs]
    assert all(j.error is not None and j.error["code"] == "order_not_found" for j in ended), [j.to_dict() for j in ended]
    with runtime.store.transaction() as session:
        budgets = dict(session.execute(select(Job.id, Job.budget_used).where(Job.id.in_(jobs))).all())
    assert max(budgets.values()) <= 2, budgets  # track_order allows 6: nobody came near it


@ON_SQLITE
def test_a_connection_cut_after_the_order_was_sent_is_reconciled_not_repeated(
    make_settings: Any, live: Runtime, sandbox: Sandbox, sandbox_url: str, redis_url: str, client_id: str
) -> None:
    """The proxy cuts the connection while Print API works on a submit: the answer is lost
    (``connection_lost``, ambiguous), the next attempt asks Print API by the order's id and finds
    it placed — one order, no review."""
    with FaultProxy("127.0.0.1", int(make_url(sandbox_url).port or 80)) as provider:
        runtime = reset_runtime(
            make_settings(
                redis_url=redis_url,
                printapi={"base_url": f"http://127.0.0.1:{provider.port}/printapi/v2"},
                retry={"submit_order": {"base": 0.2, "cap": 0.5}},
            )
        )
        sandbox.fault("printapi", kind="hang", seconds=1.5, method="POST", path="/orders")
        body = {
            "items": [{"productId": "poster_a3_sta", "quantity": 1}],
            "shipping": {"address": {"name": "P", "line1": "Osloweg 75", "postCode": "9700 GE", "city": "Groningen", "country": "NL"}},
        }
        job = runtime.intake.enqueue("submit_order", "printapi", body)
        wait_state(runtime, job.id, "running")
        wait_until(lambda: any(r["path"].endswith("/orders") for r in sandbox.requests("printapi")), 10, "the submit never arrived")
        time.sleep(0.3)
        assert provider.cut() >= 1
        done = wait_for(job.id, timeout=30, runtime=runtime)
    assert done.state == "succeeded", done.to_dict()
    attempts = get_job(job.id, runtime=runtime).attempts or []
    assert [(a.outcome, a.error_code) for a in attempts] == [("ambiguous", "connection_lost"), ("done", None)], [
        a.to_dict() for a in attempts
    ]
    state = sandbox.printapi_client(client_id)
    assert state["submits"] == 1 and len(state["orders"]) == 1
