"""Producing in bulk (CONTRACT.md): ``worker.enqueue_many`` and ``printrelay enqueue --payload-file
FILE.jsonl`` — everything checked first, one transaction, pipelined publishes that a real worker
consumes, idempotency keys, the order of a provider order kept within a batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

import worker
from tests.conftest import RecordingPublisher, Sandbox
from worker.errors import InvalidPayload
from worker.queries import get_job, wait_for
from worker.runtime import Runtime
from worker.store import Dependency, Job


def track(n: int | str) -> dict[str, str]:
    return {"order_reference": f"Order_bulk{n}"}


def count_jobs(runtime: Runtime) -> int:
    with runtime.store.transaction() as session:
        return int(session.execute(select(func.count()).select_from(Job)).scalar_one())


def test_a_batch_is_recorded_in_order_and_published(runtime: Runtime, publisher: RecordingPublisher) -> None:
    tag = uuid.uuid4().hex[:6]
    jobs = runtime.intake.enqueue_many("track_order", "printeers", [track(f"{tag}{n}") for n in range(20)])
    assert [job.state for job in jobs] == ["queued"] * 20
    assert [get_job(job.id, runtime=runtime).to_dict()["kind"] for job in jobs[:2]] == ["track_order", "track_order"]
    with runtime.store.transaction() as session:
        payloads = dict(session.execute(select(Job.id, Job.payload).where(Job.id.in_([j.id for j in jobs]))).all())
    assert [payloads[job.id]["order_reference"] for job in jobs] == [f"Order_bulk{tag}{n}" for n in range(20)]
    assert [p[0] for p in publisher.published[-20:]] == [job.id for job in jobs]


def test_one_refused_payload_stores_nothing_and_names_its_index(runtime: Runtime, publisher: RecordingPublisher) -> None:
    before = count_jobs(runtime)
    payloads: list[Any] = [track(n) for n in range(5)]
    payloads[3] = {"order_reference": "Store_not_an_order"}
    with pytest.raises(InvalidPayload) as refused:
        runtime.intake.enqueue_many("track_order", "printeers", payloads)
    assert refused.value.field.startswith("payloads[3].order_reference"), refused.value.problems
    assert str(refused.value).startswith("payloads[3].order_reference")
    payloads[3] = "not an object"
    with pytest.raises(InvalidPayload, match=r"payloads\[3\]: must be a JSON object"):
        runtime.intake.enqueue_many("track_order", "printeers", payloads)
    assert count_jobs(runtime) == before and publisher.published == []


def test_keys_seen_before_or_twice_return_their_job(runtime: Runtime) -> None:
    tag = uuid.uuid4().hex[:6]
    first = runtime.intake.enqueue("track_order", "printeers", track(1), idempotency_key=f"{tag}-a")
    jobs = runtime.intake.enqueue_many(
        "track_order", "printeers", [track(1), track(2), track(3), track(2)], idempotency_keys=[f"{tag}-a", f"{tag}-b", None, f"{tag}-b"]
    )
    assert jobs[0].id == first.id and jobs[1].id == jobs[3].id and len({j.id for j in jobs}) == 3
    again = worker_enqueue_many(runtime, [track(2)], [f"{tag}-b"])
    assert again[0].id == jobs[1].id
    with pytest.raises(InvalidPayload, match="idempotency_keys"):
        runtime.intake.enqueue_many("track_order", "printeers", [track(1)], idempotency_keys=["x", "y"])


def worker_enqueue_many(runtime: Runtime, payloads: list[Any], keys: list[str | None]) -> list[Any]:
    """Through the public producer API (``worker.enqueue_many``): the fixture made ``runtime`` the process's."""
    return worker.enqueue_many("track_order", "printeers", payloads, idempotency_keys=keys)


def test_a_batch_on_one_provider_order_runs_in_its_order(runtime: Runtime) -> None:
    """Printlane pushes of one order: within a batch each waits for the one before it, and the
    first waits for what was already pending on that order."""
    order_id = f"ORD-{uuid.uuid4().hex[:6]}"
    push = {
        "orderId": order_id,
        "email": "a@example.com",
        "status": "Created",
        "lineItems": [{"id": 1, "token": "t", "quantity": 1, "price": 9.5}],
    }
    pending = runtime.intake.enqueue("submit_order", "printlane", push)
    updates = runtime.intake.enqueue_many("update_order", "printlane", [{**push, "status": s} for s in ("Paid", "Shipped")])
    assert [job.state for job in updates] == ["blocked", "blocked"]
    with runtime.store.transaction() as session:
        links = set(session.execute(select(Dependency.job_id, Dependency.depends_on, Dependency.ordering)).all())
    assert (updates[0].id, pending.id, True) in links and (updates[1].id, updates[0].id, True) in links


def test_a_batch_with_job_references_waits_for_them(runtime: Runtime, image_file: Path) -> None:
    upload = runtime.intake.enqueue("upload_image", "printeers", {"source": str(image_file)})
    line = {"productReference": "Product_4j8k2m5n7p9q1r3s6t8v0w2x4y", "imageReference": {"$job": upload.id}, "quantity": 1}
    orders = [{"order": {"storeReference": "Store_9jmn3dewwvy13rv12k7aannqzy", "shippingKind": "combined", "orderlines": [line]}}] * 3
    jobs = runtime.intake.enqueue_many("submit_order", "printeers", orders)
    assert [job.state for job in jobs] == ["blocked"] * 3
    missing = [{"order": {**orders[0]["order"], "orderlines": [{**line, "imageReference": {"$job": str(uuid.uuid4())}}]}}]
    with pytest.raises(InvalidPayload, match=r"payloads\[0\].*no job"):
        runtime.intake.enqueue_many("submit_order", "printeers", missing)


def test_a_published_batch_runs_on_a_real_worker(live: Runtime, sandbox: Sandbox, image_file: Path) -> None:
    """Enough jobs that the messages go out pipelined (kombu's Producer.batch), consumed by Celery."""
    jobs = worker.enqueue_many("upload_image", "printeers", [{"source": str(image_file)}] * 25)
    ended = [wait_for(job.id, timeout=60, runtime=live) for job in jobs]
    assert [job.state for job in ended] == ["succeeded"] * 25


def test_enqueue_from_a_jsonl_file(live: Runtime, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:6]
    lines = [json.dumps(track(f"{tag}{n}")) for n in range(30)]
    jsonl = tmp_path / "orders.jsonl"
    jsonl.write_text("\n".join([*lines[:10], "", *lines[10:]]) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRINTRELAY_")}
    env.update(PRINTRELAY_REDIS_URL=live.settings.redis_url, PRINTRELAY_DATABASE_URL=live.settings.database_url)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "worker.cli", "enqueue", "track_order", "--provider", "printeers", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    done = cli("--payload-file", str(jsonl), "--idempotency-key", f"file-{tag}")
    assert done.returncode == 0, done.stderr
    ids = done.stdout.split()
    assert len(ids) == 30 and "30 jobs" in done.stderr
    again = cli("--payload-file", str(jsonl), "--idempotency-key", f"file-{tag}", "--json")  # the same file twice: nothing new
    assert [job["id"] for job in json.loads(again.stdout)] == ids
    # each line its job, in order: the key says which line (blank lines are skipped, not counted)
    keys = [get_job(i, attempts=False, runtime=live).idempotency_key for i in ids]
    assert keys == [f"file-{tag}:{n}" for n in [*range(1, 11), *range(12, 32)]]

    broken = tmp_path / "broken.jsonl"
    broken.write_text(lines[0] + "\n{not json\n" + json.dumps({"order_reference": "Store_x"}) + "\n")
    refused = cli("--payload-file", str(broken))
    assert refused.returncode != 0 and "line 2" in refused.stderr
    broken.write_text(lines[0] + "\n" + json.dumps({"order_reference": "Store_x"}) + "\n")
    refused = cli("--payload-file", str(broken))
    assert refused.returncode != 0 and "line 2" in refused.stderr and "order_reference" in refused.stderr
