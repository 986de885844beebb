"""Printeers' catalogue end to end: default settings, the sandbox's catalogue, a real worker.

Each test uses an account of its own: catalogue copies are kept per (provider, account) in the
shared test database, and ``default`` is every other test's account.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import delete

from tests.conftest import Sandbox
from tests.integration.test_printeers_e2e import STORE, finished, upload
from worker import catalogue
from worker.adapters.printeers import CATALOGUE_MEMO
from worker.cli import main
from worker.errors import InvalidPayload
from worker.runtime import Runtime, reset_runtime
from worker.store import Memo

PRINT = "Product_4j8k2m5n7p9q1r3s6t8v0w2x4y"
SCREEN = "Product_screenprotector00000000000"


@pytest.fixture
def account() -> str:
    return f"shop{uuid.uuid4().hex[:10]}"


@pytest.fixture
def shop(make_settings: Any, live: Runtime, account: str, redis_url: str) -> Iterator[Runtime]:
    """The live runtime with one more Printeers account (same key: the same organisation).
    Copies a test made for ``default`` are removed after it: other tests expect none."""
    runtime = reset_runtime(make_settings(redis_url=redis_url, printeers={"accounts": {account: {}}}))
    yield runtime
    with runtime.store.transaction() as session:
        session.execute(delete(Memo).where(Memo.account == "default", Memo.key == CATALOGUE_MEMO))


def combined(*lines: dict[str, Any]) -> dict[str, Any]:
    return {"order": {"storeReference": STORE, "shippingKind": "combined", "orderlines": list(lines)}}


def test_non_print_and_mixed_orders_succeed_with_no_copy_and_the_provider_refuses_a_missing_image(
    shop: Runtime, sandbox: Sandbox, image_file: Path, account: str
) -> None:
    image = upload(shop, image_file)
    screen_only = finished(
        shop, shop.intake.enqueue("submit_order", "printeers", combined({"productReference": SCREEN, "quantity": 2}), account=account)
    )
    assert screen_only.state == "succeeded", screen_only.to_dict()
    mixed = combined({"productReference": PRINT, "imageReference": image, "quantity": 1}, {"productReference": SCREEN, "quantity": 1})
    assert finished(shop, shop.intake.enqueue("submit_order", "printeers", mixed, account=account)).state == "succeeded"

    # No copy of the catalogue: accepted at enqueue, refused by Printeers with its own code.
    imageless = shop.intake.enqueue("submit_order", "printeers", combined({"productReference": PRINT, "quantity": 1}), account=account)
    failed = finished(shop, imageless)
    assert failed.state == "failed" and failed.error is not None
    assert failed.error["code"] == "missing_image_reference"
    assert [(a.outcome, a.http_status) for a in failed.attempts or []] == [("permanent", 400)]


def test_with_a_copy_a_missing_image_is_refused_at_enqueue_and_good_orders_still_succeed(
    shop: Runtime, sandbox: Sandbox, image_file: Path, account: str
) -> None:
    sandbox.printeers_config(products_page_size=2)  # three products: two pages, the cursor is followed
    refreshed = catalogue.refresh(shop, "printeers", account)
    assert (refreshed.note, refreshed.products, refreshed.print_products, refreshed.non_print_products) == ("refreshed", 3, 2, 1)
    sent_before = sandbox.org()["orders_received"]

    with pytest.raises(InvalidPayload) as caught:
        shop.intake.enqueue("submit_order", "printeers", combined({"productReference": PRINT, "quantity": 1}), account=account)
    assert caught.value.code == "missing_image_reference" and PRINT in str(caught.value)
    image = upload(shop, image_file)
    with pytest.raises(InvalidPayload) as caught:
        shop.intake.enqueue(
            "submit_order", "printeers", combined({"productReference": SCREEN, "imageReference": image, "quantity": 1}), account=account
        )
    assert caught.value.code == "image_reference_not_allowed"
    assert sandbox.org()["orders_received"] == sent_before  # nothing refused reached the provider

    mixed = combined({"productReference": PRINT, "imageReference": image, "quantity": 1}, {"productReference": SCREEN, "quantity": 1})
    assert finished(shop, shop.intake.enqueue("submit_order", "printeers", mixed, account=account)).state == "succeeded"
    # The default account has its own copy (or none): this account's copy refuses nothing there.
    assert catalogue.status(shop, "printeers", account).fetched_at is not None


def test_beat_refreshes_missing_copies_only_and_a_failed_refresh_keeps_the_old_copy(shop: Runtime, sandbox: Sandbox, account: str) -> None:
    first = {(row.provider, row.account): row for row in catalogue.refresh_due(shop)}
    assert first[("printeers", account)].note == "refreshed"
    assert all(row.account != account for row in catalogue.refresh_due(shop))  # fresh: left alone
    kept = catalogue.status(shop, "printeers", account).fetched_at

    sandbox.knobs("printeers", outage_until=9e12)
    failed = catalogue.refresh(shop, "printeers", account)
    assert failed.note.startswith("refresh failed") and failed.fetched_at == kept and failed.products == 3


def test_the_cli_refreshes_and_shows_the_copy(shop: Runtime, sandbox: Sandbox, account: str, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    refreshed = runner.invoke(main, ["catalogue", "refresh", "--account", account, "--json"])
    assert refreshed.exit_code == 0, refreshed.output
    assert json.loads(refreshed.output)[0]["products"] == 3
    shown = runner.invoke(main, ["catalogue", "show", "--json"])
    assert shown.exit_code == 0, shown.output
    rows = {row["account"]: row for row in json.loads(shown.output)}
    assert rows[account]["non_print_products"] == 1
    table = runner.invoke(main, ["catalogue", "show"])
    assert account in table.output and "non-print" in table.output
    refused = runner.invoke(main, ["catalogue", "refresh", "--provider", "printnow"])
    assert refused.exit_code != 0 and "keeps no catalogue" in refused.output
