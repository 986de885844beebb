"""Finding any job by what a person quotes (``printrelay jobs find``): its id, its idempotency key,
the shop's own order id in the payload, the provider's reference in the result — real jobs run by
the in-process worker against the sandbox, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.conftest import Sandbox
from worker.queries import find_jobs, wait_for
from worker.runtime import Runtime
from worker.store import Store
from worker.store.engine import upgrade

STORE = "Store_9jmn3dewwvy13rv12k7aannqzy"
PRODUCT = "Product_4j8k2m5n7p9q1r3s6t8v0w2x4y"
ADDRESS = {"name": "Print API", "line1": "Osloweg 75", "postCode": "9700 GE", "city": "Groningen", "country": "NL"}


def ended(runtime: Runtime, job_id: str) -> Any:
    done = wait_for(job_id, timeout=30, runtime=runtime)
    assert done.state == "succeeded", done.to_dict()
    return done


def found(runtime: Runtime, text: str) -> set[str]:
    return {job.id for job in find_jobs(text, runtime=runtime)}


def test_every_kind_of_reference_finds_its_jobs(live: Runtime, sandbox: Sandbox, image_file: Path, client_id: str) -> None:
    tag = uuid.uuid4().hex[:8]
    upload = ended(live, live.intake.enqueue("upload_image", "printeers", {"source": str(image_file)}).id)
    image = upload.result["image_reference"]
    dropship = {
        "storeReference": STORE,
        "shippingKind": "dropship",
        "customIdentifier": f"Shop-{tag}",
        "dropshipAddress": {"firstname": "John", "lastname": "Doe", "streetname": "Koelmalaan", "housenumber": "330", "zipcode": "1432 PV"}
        | {"city": "Aalsmeer", "countryCode": "NL", "email": "john@example.com", "phonenumber": "+31612345678"},
        "orderlines": [{"productReference": PRODUCT, "imageReference": image, "quantity": 1}],
    }
    printeers = ended(live, live.intake.enqueue("submit_order", "printeers", {"order": dropship}, idempotency_key=f"key-{tag}").id)
    reference = printeers.result["order_reference"]
    track = live.intake.enqueue("track_order", "printeers", {"order_reference": reference}).id

    printapi = ended(
        live,
        live.intake.enqueue(
            "submit_order",
            "printapi",
            {"id": f"pa-{tag}", "items": [{"productId": "poster_a3_sta", "quantity": 1}], "shipping": {"address": ADDRESS}},
        ).id,
    )
    ideal = {
        "ecommerce_order_id": f"ORD-{tag}",
        "items": [
            {
                "ecommerce_order_item_id": f"ITEM-{tag}",
                "ecommerce_variant_id": "V-1",
                "quantity": 1,
                "template_config": {"text": "design"},
                "thumbnails": ["https://cdn.test/1.png"],
            }
        ],
        "shippings": [{"code": "STANDARD", "shipping_price": 4.95}],
    }
    idealfactory = ended(live, live.intake.enqueue("submit_order", "idealfactory", ideal).id)
    made = sandbox.printnow_order(items=1)
    printnow = ended(live, live.intake.enqueue("track_order", "printnow", {"order_id": made["order"]["id"]}).id)

    assert found(live, f"SHOP-{tag}") == {printeers.id}  # the shop's own id, in any case
    assert found(live, reference) == {printeers.id, track}  # the provider's reference: the order and what acts on it
    assert found(live, reference.lower()) == {printeers.id, track}
    assert found(live, f"key-{tag}") == {printeers.id}  # the idempotency key
    assert found(live, printeers.id) == {printeers.id}  # the id, and a prefix of it
    assert printeers.id in found(live, printeers.id[:8])
    assert found(live, f"pa-{tag}") == {printapi.id}  # Print API's id (payload and result)
    assert found(live, f"ORD-{tag}") == {idealfactory.id}  # ecommerce_order_id
    assert found(live, f"ITEM-{tag}") == {idealfactory.id}  # an item's ecommerce id
    assert found(live, idealfactory.result["order_uid"]) == {idealfactory.id}  # Ideal Factory's uid, from the result
    assert printnow.id in found(live, str(made["order"]["id"]))  # a PrintNow order id
    assert found(live, "john@example.com") == set()  # customer data is not a reference
    assert found(live, "  ") == set()


def test_a_printlane_order_id_finds_its_pushes(live: Runtime, sandbox: Sandbox) -> None:
    settings: Any = live.settings.provider("printlane")
    sandbox.printlane_store(settings.store_id, api_key="pl-key-123", api_secret="pl-secret-456", domains=["shop.example"])
    order_id = f"ORD-{uuid.uuid4().hex[:8]}"
    items = [{"id": 123, "token": "a462a062-7987-4a44-b35f-7009b141fb33", "quantity": 2, "price": 12.5}]
    push = {"orderId": order_id, "email": "john.doe@gmail.com", "firstName": "John", "lastName": "Doe", "status": "Created"}
    created = ended(live, live.intake.enqueue("submit_order", "printlane", {**push, "lineItems": items}).id)
    deleted = ended(live, live.intake.enqueue("cancel_order", "printlane", {"order_id": order_id}).id)
    assert found(live, order_id) == {created.id, deleted.id}


def test_jobs_find_on_the_command_line(live: Runtime, image_file: Path) -> None:
    key = f"cli-{uuid.uuid4().hex[:8]}"
    job = ended(live, live.intake.enqueue("upload_image", "printeers", {"source": str(image_file)}, idempotency_key=key).id)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRINTRELAY_")}
    env.update(PRINTRELAY_REDIS_URL=live.settings.redis_url, PRINTRELAY_DATABASE_URL=live.settings.database_url)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "worker.cli", *args], env=env, capture_output=True, text=True, timeout=60)

    as_json = cli("jobs", "find", job.result["image_reference"], "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert [j["id"] for j in json.loads(as_json.stdout)] == [job.id]
    table = cli("jobs", "find", key)
    assert table.returncode == 0 and job.id[:8] in table.stdout
    nothing = cli("jobs", "find", "Order_nobody")
    assert nothing.returncode == 0 and "no job carries 'Order_nobody'" in nothing.stdout


def test_the_migration_fills_the_references_of_existing_jobs(database_url: str, empty_store: Store) -> None:
    """A database at 0008 with jobs in it: upgrading fills job_references from their payloads and results."""
    store = empty_store
    upgrade(store.engine, "0008")
    jobs = sa.table(
        "jobs",
        *(sa.column(name) for name in ("id", "kind", "provider", "account", "state", "attempt_count", "budget_used")),
        *(sa.column(name) for name in ("reconcile", "slot_reserved", "cancel_requested", "notify_due", "created_at", "updated_at")),
        sa.column("payload", sa.JSON),
        sa.column("result", sa.JSON),
    )
    with store.engine.begin() as connection:
        connection.execute(
            sa.insert(jobs),
            [
                {
                    "id": "00000000-0000-0000-0000-000000000001",
                    "kind": "submit_order",
                    "provider": "printeers",
                    "account": "default",
                    "state": "succeeded",
                    "attempt_count": 1,
                    "budget_used": 0,
                    "reconcile": False,
                    "slot_reserved": False,
                    "cancel_requested": False,
                    "notify_due": False,
                    "created_at": datetime(2026, 1, 1),
                    "updated_at": datetime(2026, 1, 1),
                    "payload": {"order": {"customIdentifier": "Old-1001", "orderlines": []}},
                    "result": {"order_reference": "Order_old"},
                }
            ],
        )
    with store.engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO attempts (job_id, number, outcome, started_at, finished_at) "
                "VALUES ('00000000-0000-0000-0000-000000000001', 1, 'done', :at, :at)"
            ),
            {"at": datetime(2026, 1, 1)},
        )
    store.upgrade()
    with store.engine.begin() as connection:
        rows = connection.execute(sa.text("SELECT value, source FROM job_references ORDER BY value")).all()
        attempts = connection.execute(sa.text("SELECT count(*) FROM attempts")).scalar_one()
        foreign_keys = connection.exec_driver_sql("PRAGMA foreign_keys").scalar() if database_url.startswith("sqlite") else 1
    assert [tuple(row) for row in rows] == [("old-1001", "payload"), ("order_old", "result")]
    # a table rebuilt by a migration (SQLite's batch mode) cascades nothing away
    assert attempts == 1 and foreign_keys == 1
