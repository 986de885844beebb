"""The command line as users run it: real ``printrelay`` processes, the contract's JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from worker.queries import wait_for
from worker.runtime import Runtime

JOB_KEYS = [
    "id",
    "kind",
    "provider",
    "account",
    "state",
    "idempotency_key",
    "result",
    "error",
    "next_attempt_at",
    "created_at",
    "updated_at",
]
ATTEMPT_KEYS = {"number", "outcome", "http_status", "retry_after", "error_code", "started_at", "finished_at"}


def cli(runtime: Runtime, *args: str) -> subprocess.CompletedProcess[str]:
    settings = runtime.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRINTRELAY_")}
    env.update(
        PRINTRELAY_REDIS_URL=settings.redis_url,
        PRINTRELAY_DATABASE_URL=settings.database_url,
        PRINTRELAY_PRINTEERS__BASE_URL=settings.printeers.base_url,
    )
    return subprocess.run([sys.executable, "-m", "worker.cli", *args], env=env, capture_output=True, text=True, timeout=60)


def test_enqueue_and_show_print_the_contracts_json(live: Runtime, image_file: Path) -> None:
    done = cli(
        live,
        "enqueue",
        "upload_image",
        "--provider",
        "printeers",
        "--idempotency-key",
        "img-1",
        "--payload",
        json.dumps({"source": str(image_file)}),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)
    assert list(job) == JOB_KEYS
    assert (job["kind"], job["provider"], job["account"], job["state"], job["idempotency_key"]) == (
        "upload_image",
        "printeers",
        "default",
        "queued",
        "img-1",
    )

    wait_for(job["id"], timeout=30, runtime=live)
    shown = cli(live, "jobs", "show", job["id"], "--json")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert list(data)[: len(JOB_KEYS)] == JOB_KEYS and "attempts" in data
    assert data["state"] == "succeeded" and data["result"]["image_reference"].startswith("Image_")
    assert data["error"] is None
    assert set(data["attempts"][0]) >= ATTEMPT_KEYS
    assert data["attempts"][0]["outcome"] == "done" and data["attempts"][0]["http_status"] == 201
    assert data["created_at"].endswith("Z")

    again = cli(
        live,
        "enqueue",
        "upload_image",
        "--provider",
        "printeers",
        "--idempotency-key",
        "img-1",
        "--payload",
        json.dumps({"source": str(image_file)}),
        "--json",
    )
    assert json.loads(again.stdout)["id"] == job["id"]

    listed = cli(live, "jobs", "list", "--json", "--kind", "upload_image", "--limit", "500")
    assert job["id"] in [j["id"] for j in json.loads(listed.stdout)]
    human = cli(live, "jobs", "list", "--state", "succeeded")
    assert human.returncode == 0 and job["id"][:8] in human.stdout
    readable = cli(live, "jobs", "show", job["id"])
    assert readable.returncode == 0 and "attempts" in readable.stdout and "POST" in readable.stdout


def refused(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_refusals_are_one_line_and_non_zero(live: Runtime, tmp_path: Path) -> None:
    bad: dict[str, Any] = {
        "order": {
            "storeReference": "Store_9jmn3dewwvy13rv12k7aannqzy",
            "shippingKind": "dropship",
            "orderlines": [
                {
                    "productReference": "Product_4j8k2m5n7p9q1r3s6t8v0w2x4y",
                    "imageReference": "Image_pdcptbw3k48sv03wy338bb8jzm",
                    "quantity": 1,
                }
            ],
        }
    }
    line = refused(cli(live, "enqueue", "submit_order", "--provider", "printeers", "--payload", json.dumps(bad)))
    assert "missing_address" in line
    assert "invalid_payload" in refused(cli(live, "enqueue", "submit_order", "-p", "printeers", "--payload", "{not json"))
    assert "unsupported_kind" in refused(cli(live, "enqueue", "poll_print_file", "-p", "printeers", "--payload", "{}"))
    assert "unknown_provider" in refused(cli(live, "enqueue", "submit_order", "-p", "acme", "--payload", "{}"))
    assert "job_not_found" in refused(cli(live, "jobs", "show", "no-such-job"))
    assert "unknown_provider" in refused(cli(live, "enqueue", "submit_order", "-p", "webhook", "--payload", "{}"))
    track = json.dumps({"order_reference": "Order_5jcavdegg8n9pvgxq887jq0zbc"})
    line = refused(cli(live, "enqueue", "track_order", "-p", "printeers", "--payload", track, "--notify-url", "https://shop.test/h"))
    assert "notify.url" in line and "PRINTRELAY_WEBHOOK__SECRET" in line
    gif = tmp_path / "x.png"
    gif.write_bytes(b"GIF89a" + b"\0" * 20)
    assert "unsupported_image_format" in refused(
        cli(live, "enqueue", "upload_image", "-p", "printeers", "--payload", json.dumps({"source": str(gif)}))
    )


def test_an_uninitialised_database_says_what_to_do(live: Runtime, tmp_path: Path) -> None:
    settings = live.settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'empty.db'}"})
    line = refused(cli(_with(live, settings), "jobs", "list"))
    assert "printrelay db upgrade" in line and str(tmp_path / "empty.db") in line
    assert not (tmp_path / "empty.db").exists()  # looking for it did not make it
    upgraded = cli(_with(live, settings), "db", "upgrade")
    assert upgraded.returncode == 0 and "up to date" in upgraded.stdout
    assert cli(_with(live, settings), "jobs", "list", "--json").stdout.strip() == "[]"


def _with(runtime: Runtime, settings: Any) -> Runtime:
    clone = Runtime.__new__(Runtime)
    clone.settings = settings
    return clone


def test_limits_shows_the_shared_buckets(live: Runtime) -> None:
    live.limiter.observe("printeers", "default", {"retry-after": "30"}, 429, live.settings.rate_limits("printeers"))
    shown = cli(live, "limits", "--provider", "printeers", "--json")
    assert shown.returncode == 0, shown.stderr
    buckets = {b["name"]: b for b in json.loads(shown.stdout)}
    assert set(buckets) == {"default", "uploads", "downloads"}
    assert buckets["uploads"]["count"] == 5000 and buckets["uploads"]["seconds"] == 86400
    assert 25 < buckets["default"]["frozen_for"] <= 30
    human = cli(live, "limits", "--provider", "printeers")
    assert "uploads" in human.stdout and "5000/86400s" in human.stdout
    live.limiter.client.delete(live.limiter.key("printeers", "default", "default"))


def test_a_command_run_from_an_empty_directory_leaves_no_file_and_says_where_it_looked(tmp_path: Path) -> None:
    """The default database is relative to the working directory: elsewhere there is none,
    and no command but ``db upgrade`` may make one."""
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRINTRELAY_")}
    for args in (["jobs", "list"], ["jobs", "show", "7d7d2677"], ["limits", "--json"], ["catalogue", "show"]):
        done = subprocess.run([sys.executable, "-m", "worker.cli", *args], cwd=empty, env=env, capture_output=True, text=True, timeout=60)
        if args[0] == "limits":  # Redis only: no database involved
            continue
        line = refused(done)
        assert f"{empty}/var/printrelay.db" in line and "working directory" in line and "PRINTRELAY_DATABASE_URL" in line
    assert list(empty.iterdir()) == []


def test_job_ids_by_prefix_and_ambiguous_prefixes_name_the_candidates(runtime: Runtime) -> None:
    """Jobs recorded but not run (the runtime publishes nowhere), then given ids that share a prefix."""
    live = runtime
    from sqlalchemy import delete, update

    from worker.store import Job, JobReference

    track = {"order_reference": "Order_5jcavdegg8n9pvgxq887jq0zbc"}
    first, second = (live.intake.enqueue("track_order", "printeers", track, idempotency_key=f"prefix-{n}-{os.getpid()}").id for n in (1, 2))
    twins = ("feedbeef-0000-4000-8000-" + os.urandom(6).hex(), "feedbeef-0001-4000-8000-" + os.urandom(6).hex())
    with live.store.transaction() as session:
        for old, new in zip((first, second), twins, strict=True):
            session.execute(delete(JobReference).where(JobReference.job_id == old))  # they name the old id
            session.execute(update(Job).where(Job.id == old).values(id=new))
    line = refused(cli(live, "jobs", "show", "feedbeef"))
    assert "ambiguous_job_id" in line and twins[0] in line and twins[1] in line
    shown = cli(live, "jobs", "show", twins[1][:13], "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["id"] == twins[1]
    assert json.loads(cli(live, "jobs", "show", twins[0].upper()[:14], "--json").stdout)["id"] == twins[0]
    assert "at least 4" in refused(cli(live, "jobs", "show", "fee"))


def test_a_refused_payload_lists_every_problem(live: Runtime) -> None:
    bad = {"order": {"shippingKind": "pigeon", "orderlines": [{"productReference": "Shop_x"}, {"quantity": "many"}]}}
    done = cli(live, "enqueue", "submit_order", "-p", "printeers", "--payload", json.dumps(bad), "--json")
    line = refused(done)
    problems = json.loads(done.stdout)["error"]["problems"]
    fields = [p["field"] for p in problems]
    assert fields[0] == "order.shippingKind" and "order.orderlines[1].productReference" in fields and len(problems) >= 4
    assert all(p["rule"] for p in problems)
    assert "order.shippingKind" in line and "order.orderlines[0].productReference" in line and "more problems" in line


def test_an_enqueue_while_the_database_is_unreachable_is_refused_in_one_line(live: Runtime) -> None:
    """A job store that refuses connections (nothing listens on the port): the CLI says so in
    one line, and Python raises printrelay's DatabaseUnavailable, with nothing recorded."""
    from sandbox.services import free_port
    from worker.errors import DatabaseUnavailable
    from worker.intake import Intake
    from worker.store import Store

    down = f"postgresql+psycopg://printrelay:hunter2secret@127.0.0.1:{free_port()}/printrelay"
    settings = live.settings.model_copy(update={"database_url": down})
    track = json.dumps({"order_reference": "Order_5jcavdegg8n9pvgxq887jq0zbc"})
    line = refused(cli(_with(live, settings), "enqueue", "track_order", "-p", "printeers", "--payload", track))
    assert line.startswith("printrelay: database_unavailable: the job store at postgresql+psycopg://printrelay:***@127.0.0.1:")
    assert "hunter2secret" not in line and "try again" in line
    store = Store(down)
    try:
        intake = Intake(store, settings, live.intake.adapters, live.publisher)
        with pytest.raises(DatabaseUnavailable):
            intake.enqueue("track_order", "printeers", json.loads(track), idempotency_key="while-down")
    finally:
        store.dispose()
