"""Nothing is lost and nothing runs twice when workers die or Redis forgets: real worker
processes (``printrelay worker``, ``printrelay beat``), SIGKILL, a flushed Redis database."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.conftest import Sandbox
from tests.workers import BrokerPublisher, environment, wait_state
from tests.workers import processes as started_processes
from worker.queries import get_job, wait_for
from worker.runtime import Runtime, reset_runtime
from worker.states import JobState

pytestmark = pytest.mark.slow
LEASE = 3


@pytest.fixture
def reliable(make_settings: Any, private_redis_url: str, own_database_url: str) -> Iterator[Runtime]:
    runtime = reset_runtime(
        make_settings(
            redis_url=private_redis_url,
            database_url=own_database_url,  # beat republishes what it finds queued: only this test's jobs
            lease_seconds=LEASE,
            requeue_after=2,
            printeers={"rate_limits": "default=4/1,uploads=5000/86400"},
        ),
        BrokerPublisher(private_redis_url),
    )
    yield runtime
    runtime.close()


@pytest.fixture
def processes(reliable: Runtime, tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    env = environment(
        reliable.settings,
        PRINTRELAY_LEASE_SECONDS=str(LEASE),
        PRINTRELAY_REQUEUE_AFTER="2",
        PRINTRELAY_RETRY__UPLOAD_IMAGE__BASE="0.5",
        # a little under the sandbox's limit in the shared-limit test; generous elsewhere
        PRINTRELAY_PRINTEERS__RATE_LIMITS="default=4/1,uploads=5000/86400",
    )
    with started_processes(env, tmp_path) as started:
        yield started.start


def test_a_killed_worker_loses_nothing_and_repeats_no_order(reliable: Runtime, processes: Any, sandbox: Sandbox, image_file: Path) -> None:
    processes("beat", "--schedule", str(image_file.parent / "beat-schedule"))
    first = processes("worker", "--concurrency", "4")

    # An idempotent upload killed mid-call: recovered and completed.
    sandbox.fault(kind="hang", seconds=4, method="POST", path="/images")
    upload = reliable.intake.enqueue("upload_image", "printeers", {"source": str(image_file)})
    wait_state(reliable, upload.id, "running")
    time.sleep(0.5)  # the request is at the sandbox now
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    processes("worker", "--concurrency", "4")
    done = wait_for(upload.id, timeout=40, runtime=reliable)
    assert done.state == JobState.SUCCEEDED, done.to_dict()
    assert [a.outcome for a in get_job(upload.id, runtime=reliable).attempts or []] == ["crashed", "done"]


def test_a_killed_worker_never_repeats_an_order(reliable: Runtime, processes: Any, sandbox: Sandbox, image_file: Path) -> None:
    processes("beat", "--schedule", str(image_file.parent / "beat-schedule"))
    first = processes("worker", "--concurrency", "4")
    upload = reliable.intake.enqueue("upload_image", "printeers", {"source": str(image_file)})
    reference = (wait_for(upload.id, timeout=30, runtime=reliable).result or {})["image_reference"]

    sandbox.fault(kind="hang", seconds=4, method="POST", path="/orders")
    order = {
        "order": {
            "storeReference": "Store_9jmn3dewwvy13rv12k7aannqzy",
            "shippingKind": "combined",
            "orderlines": [{"productReference": "Product_4j8k2m5n7p9q1r3s6t8v0w2x4y", "imageReference": reference, "quantity": 1}],
        }
    }
    submit = reliable.intake.enqueue("submit_order", "printeers", order)
    wait_state(reliable, submit.id, "running")
    time.sleep(0.5)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    processes("worker", "--concurrency", "4")
    done = wait_for(submit.id, timeout=40, runtime=reliable)
    # Printeers offers no way to ask whether the order was made: review, never a blind repeat.
    assert done.state == JobState.NEEDS_REVIEW, done.to_dict()
    assert [a.outcome for a in get_job(submit.id, runtime=reliable).attempts or []] == ["crashed"]
    time.sleep(LEASE)
    assert sandbox.org()["orders_received"] == 1


def test_a_flushed_redis_loses_no_job(
    reliable: Runtime, processes: Any, sandbox: Sandbox, image_file: Path, private_redis_url: str
) -> None:
    queued = [reliable.intake.enqueue("upload_image", "printeers", {"source": str(image_file)}).id for _ in range(5)]
    waiting = [reliable.intake.enqueue("upload_image", "printeers", {"source": str(image_file)}).id for _ in range(3)]
    from datetime import timedelta

    from worker.store import Job
    from worker.store.types import utcnow

    with reliable.store.transaction() as session:  # as if throttled: due in 2 s, with a countdown in Redis
        for job_id in waiting:
            job = session.get(Job, job_id)
            assert job is not None
            job.state, job.next_attempt_at = "waiting", utcnow() + timedelta(seconds=2)
    for job_id in waiting:
        reliable.publisher.publish(job_id, "upload_image", "printeers", countdown=2)
    client = redis.Redis.from_url(private_redis_url)
    assert client.dbsize() > 0
    client.flushdb()  # what FLUSHALL does to this run's database, without touching other runs'
    client.set("printrelay:test-run", "flushed", ex=3600)

    processes("beat", "--schedule", str(image_file.parent / "beat-schedule"))
    processes("worker", "--concurrency", "4")
    for job_id in queued + waiting:
        assert wait_for(job_id, timeout=40, runtime=reliable).state == JobState.SUCCEEDED


def test_two_worker_processes_share_the_providers_limit(reliable: Runtime, processes: Any, sandbox: Sandbox, image_file: Path) -> None:
    """2 worker processes x 8 threads, the sandbox enforcing 5 calls/s: printrelay sends no call too many."""
    upload = reliable.intake.enqueue("upload_image", "printeers", {"source": str(image_file)})
    processes("worker", "--concurrency", "8")
    reference = (wait_for(upload.id, timeout=30, runtime=reliable).result or {})["image_reference"]
    processes("worker", "--concurrency", "8")
    sandbox.printeers_config(limits={"default": [5, 1]})
    try:
        order = {
            "order": {
                "storeReference": "Store_9jmn3dewwvy13rv12k7aannqzy",
                "shippingKind": "combined",
                "orderlines": [{"productReference": "Product_4j8k2m5n7p9q1r3s6t8v0w2x4y", "imageReference": reference, "quantity": 1}],
            }
        }
        start = time.monotonic()
        jobs = [reliable.intake.enqueue("submit_order", "printeers", order).id for _ in range(30)]
        ends = [wait_for(job_id, timeout=60, runtime=reliable) for job_id in jobs]
        elapsed = time.monotonic() - start
        assert all(job.state == JobState.SUCCEEDED for job in ends)
        assert sandbox.org()["throttled"] == 0
        assert all(len(get_job(j, runtime=reliable).attempts or []) == 1 for j in jobs)  # waiting for a slot is not an attempt
        # the sandbox announced its policy (X-RateLimit-Policy q=5;w=1): the shared bucket learned it
        [bucket] = [b for b in reliable.limiter.buckets("printeers", "default", {"default": (4, 1.0)}) if b.name == "default"]
        assert (bucket.count, bucket.seconds, bucket.learned) == (5, 1.0, True)
        assert elapsed >= (30 - 5) / 5 * 0.9  # paced at the provider's rate, not faster
    finally:
        sandbox.printeers_config(limits={"default": [3000, 60]})


def test_a_redis_that_forgot_is_noticed_within_one_tick_and_every_queued_job_published_again(
    make_settings: Any, private_redis_url: str
) -> None:
    """The marker key: present, nothing happens; gone (FLUSHDB of this run's own database), every
    queued job is published at once, without waiting ``requeue_after``."""
    from tests.conftest import RecordingPublisher
    from worker import maintenance

    publisher = RecordingPublisher()
    runtime = reset_runtime(make_settings(redis_url=private_redis_url, requeue_after=3600), publisher)
    try:
        track = {"order_reference": "Order_5jcavdegg8n9pvgxq887jq0zbc"}
        mine = {runtime.intake.enqueue("track_order", "printeers", track).id for _ in range(3)}
        maintenance.redis_forgot(runtime)  # the first tick sets the marker (and may publish: harmless)
        publisher.published.clear()
        assert maintenance.redis_forgot(runtime) == 0 and publisher.published == []
        client = redis.Redis.from_url(private_redis_url)
        client.flushdb()
        assert maintenance.redis_forgot(runtime) >= 3
        assert mine <= {job_id for job_id, *_ in publisher.published}
        assert client.exists(maintenance.MARKER) and maintenance.redis_forgot(runtime) == 0
        assert maintenance.requeue_lost(runtime) == 0  # not by waiting requeue_after (an hour here)
    finally:
        runtime.close()


def test_a_long_call_is_never_taken_over_while_its_worker_lives(
    make_settings: Any, live: Runtime, sandbox: Sandbox, redis_url: str
) -> None:
    """A 2-second lease and a 4-second answer: the heartbeat renews the lease, so beat's
    recovery finds nothing to take over mid-call, and the job ends with its one attempt."""
    from worker import maintenance

    runtime = reset_runtime(make_settings(redis_url=redis_url, lease_seconds=2.0))
    order = "Order_" + os.urandom(13).hex()
    sandbox.knobs("printeers", faults=[{"kind": "hang", "seconds": 4, "method": "GET", "path": order}])
    job = runtime.intake.enqueue("track_order", "printeers", {"order_reference": order})
    wait_state(runtime, job.id, JobState.RUNNING.value, timeout=10)
    deadline = time.monotonic() + 3.5
    while time.monotonic() < deadline:  # beat's recovery, ticking through the call
        assert maintenance.recover_stale(runtime) == 0
        time.sleep(0.5)
    done = wait_for(job.id, timeout=20, runtime=runtime)
    assert done.finished and [a.outcome for a in done.attempts or []] == ["permanent"], done.to_dict()  # one attempt, not crashed
