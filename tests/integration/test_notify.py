"""Telling the producer how a job ended: its own Celery task, a signed POST, beat's backstop."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RecordingPublisher, Sandbox
from tests.integration.test_flows import finished, order_using
from worker.admin import Admin
from worker.errors import UnknownProvider
from worker.queries import get_job, list_jobs
from worker.runtime import Runtime, reset_runtime

SECRET = "whsec-test-4b1d"
PRODUCER_APP = """
import json, os, pathlib
from celery import Celery

app = Celery("shop", broker=os.environ["SHOP_BROKER"])

@app.task(name="shop.job_finished")
def job_finished(job):
    out = pathlib.Path(os.environ["SHOP_OUT"])
    (out / (job["id"] + ".tmp")).write_text(json.dumps(job))
    (out / (job["id"] + ".tmp")).rename(out / (job["id"] + ".json"))
"""


@pytest.fixture(scope="module")
def producer(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A producer's own Celery worker (a separate app, a real process) on its queue ``shop``;
    what its ``shop.job_finished`` task receives lands in the returned folder, one file a job."""
    home = tmp_path_factory.mktemp("shop")
    (home / "shop_app.py").write_text(PRODUCER_APP)
    out = home / "received"
    out.mkdir()
    env = {**os.environ, "SHOP_BROKER": redis_url, "SHOP_OUT": str(out), "PYTHONPATH": str(home)}
    command = [sys.executable, "-m", "celery", "-A", "shop_app", "worker", "-Q", "shop", "--pool", "solo"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "WARNING"]
    process = subprocess.Popen(command, cwd=home, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield out
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def received(folder: Path, job_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while not (folder / f"{job_id}.json").exists():
        assert time.monotonic() < deadline, f"no notification for job {job_id}"
        time.sleep(0.05)
    data: dict[str, Any] = json.loads((folder / f"{job_id}.json").read_text())
    return data


def test_a_notify_task_receives_the_final_json(live: Runtime, sandbox: Sandbox, image_file: Path, producer: Path) -> None:
    shop = {"task": "shop.job_finished", "queue": "shop"}
    upload = live.intake.enqueue("upload_image", "printeers", {"source": str(image_file)}, notify=shop)
    gif = f"{sandbox.root}/_sandbox/files/not-an-image.gif"
    refused = live.intake.enqueue("upload_image", "printeers", {"source": gif}, notify=shop)

    told = received(producer, upload.id)
    assert told == finished(live, upload.id).to_dict()
    assert told["state"] == "succeeded" and told["result"]["image_reference"].startswith("Image_")
    assert [a["outcome"] for a in told["attempts"]] == ["done"]
    told = received(producer, refused.id)
    assert told["state"] == "failed" and told["error"]["code"] == "unsupported_image_format"
    assert SECRET not in json.dumps(told) and sandbox.secret_key not in json.dumps(told)


class Receiver:
    """A producer's webhook endpoint: answers each POST with the next status of ``answers``."""

    def __init__(self, answers: list[int]) -> None:
        self.answers, self.posts = answers, []  # type: list[int], list[tuple[dict[str, str], bytes]]
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.posts.append((dict(self.headers), body))
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/printrelay?token=shop-token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver([500])
    yield receiver
    receiver.close()


def test_a_webhook_gets_a_signed_post_and_a_retry_after_a_refusal(
    live: Runtime, make_settings: Any, redis_url: str, image_file: Path, receiver: Receiver
) -> None:
    live = reset_runtime(make_settings(redis_url=redis_url, webhook={"secret": SECRET}, retry={"notify": {"base": 0.2}}))
    upload = live.intake.enqueue("upload_image", "printeers", {"source": str(image_file)}, notify={"url": receiver.url})
    done = finished(live, upload.id)

    deadline = time.monotonic() + 30
    while not (hooks := list_jobs(provider="webhook", runtime=live)) or not hooks[0].finished:
        assert time.monotonic() < deadline, "the webhook job did not finish"
        time.sleep(0.05)
    hook = get_job(hooks[0].id, runtime=live)
    assert hook.kind == "notify" and hook.state == "succeeded", hook.to_dict()
    assert [(a.outcome, a.http_status) for a in hook.attempts or []] == [("transient", 500), ("done", 200)]
    assert all(a.request == "POST /hooks/printrelay" for a in hook.attempts or [])  # no query (it may hold a token)

    assert len(receiver.posts) == 2
    for headers, body in receiver.posts:
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Printrelay-Signature"] == expected
        assert headers["X-Printrelay-Delivery"] == hook.id and headers["X-Printrelay-Job"] == upload.id
        sent = json.loads(body)
        assert sent["id"] == upload.id and sent["state"] == "succeeded" and sent["result"] == done.result
    assert receiver.posts[0][1] == receiver.posts[1][1]  # a retry sends the very same bytes


def test_producers_cannot_enqueue_printrelays_own_notifications(runtime: Runtime) -> None:
    with pytest.raises(UnknownProvider, match="unknown provider 'webhook'"):
        runtime.intake.enqueue("notify", "webhook", {"url": "https://x.test", "body": "{}", "job_id": "j"})
    with pytest.raises(UnknownProvider):
        runtime.intake.enqueue("notify", "webhook", {}, idempotency_key="guess")


def test_beat_announces_ends_the_worker_did_not_and_a_retried_job_again(
    runtime: Runtime, publisher: RecordingPublisher, sandbox: Sandbox, image_file: Path
) -> None:
    shop = {"task": "shop.job_finished"}
    sandbox.fault(kind="status", status=400, method="POST", path="/images")
    upload = runtime.intake.enqueue("upload_image", "printeers", {"source": str(image_file)}, notify=shop)
    order = runtime.intake.enqueue("submit_order", "printeers", order_using(upload.id), notify=shop)
    assert runtime.runner.run(upload.id) == "failed"
    # the worker announced its own job's end at once; the order failed in passing (dependency_failed)
    assert [(task, job["id"], queue) for task, job, queue in publisher.notifications] == [("shop.job_finished", upload.id, "celery")]
    assert get_job(order.id, runtime=runtime).state == "failed"
    assert runtime.notifier.sweep(grace=0) == 1
    assert publisher.notifications[-1][1]["id"] == order.id
    assert publisher.notifications[-1][1]["error"]["code"] == "dependency_failed"
    assert runtime.notifier.sweep(grace=0) == 0  # announced once

    Admin(runtime).retry(upload.id, actor="test")  # the fault was one-shot: the upload succeeds now
    assert runtime.runner.run(upload.id) == "succeeded"
    assert runtime.runner.run(order.id) == "succeeded"  # released by the upload, announced again
    assert [(job["id"], job["state"]) for _, job, _ in publisher.notifications[2:]] == [(upload.id, "succeeded"), (order.id, "succeeded")]
