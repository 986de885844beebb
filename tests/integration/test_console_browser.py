"""The console in a real browser: Debian's Chromium, driven by Playwright's Python API through
``executable_path`` (Playwright never downloads a browser here). A support person searches for a
shop's order id, opens the failed job, presses Retry and sees it succeed.

``.ci/run`` installs Chromium when it is missing; elsewhere, without it, the test is skipped and
says why. Screenshots are kept in ``test-artifacts/``.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Sandbox
from tests.services import unavailable
from tests.workers import ROOT, console_server
from worker.queries import wait_for
from worker.runtime import Runtime, reset_runtime

pytestmark = pytest.mark.slow
OPERATOR = ("ops", "ops-secret-1")
ARTIFACTS = ROOT / "test-artifacts"
STORE = "Store_9jmn3dewwvy13rv12k7aannqzy"
PRODUCT = "Product_4j8k2m5n7p9q1r3s6t8v0w2x4y"
#: The flags a headless Chromium needs on these machines (no sandbox as root, no network of its own).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser() -> Iterator[Any]:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        unavailable("Debian's chromium (apt install chromium; .ci/run installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright's Python API (pip install playwright)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def test_search_open_retry_in_a_real_browser(
    make_settings: Any, live: Runtime, redis_url: str, sandbox: Sandbox, image_file: Path, tmp_path: Path, browser: Any
) -> None:
    shop = reset_runtime(make_settings(redis_url=redis_url, retry={"submit_order": {"max_attempts": 1}}))
    upload = wait_for(shop.intake.enqueue("upload_image", "printeers", {"source": str(image_file)}).id, timeout=30, runtime=shop)
    custom = f"AMS-{uuid.uuid4().hex[:6]}"
    order = {
        "storeReference": STORE,
        "shippingKind": "dropship",
        "customIdentifier": custom,
        "dropshipAddress": {"firstname": "Ann", "lastname": "Lee", "streetname": "Damrak", "housenumber": "1", "zipcode": "1012 LG"}
        | {"city": "Amsterdam", "countryCode": "NL", "email": "ann@example.com"},
        "orderlines": [{"productReference": PRODUCT, "imageReference": (upload.result or {})["image_reference"], "quantity": 1}],
    }
    sandbox.fault(kind="status", status=500, method="POST", path="/orders")
    job = wait_for(shop.intake.enqueue("submit_order", "printeers", {"order": order}).id, timeout=30, runtime=shop)
    assert job.state == "failed", job.to_dict()
    ARTIFACTS.mkdir(exist_ok=True)

    with console_server(shop.settings, tmp_path, PRINTRELAY_CONSOLE__BASIC_AUTH=":".join(OPERATOR)) as root:
        context = browser.new_context(
            http_credentials={"username": OPERATOR[0], "password": OPERATOR[1]}, viewport={"width": 1280, "height": 900}
        )
        page = context.new_page()
        page.goto(root + "/")
        page.fill("#q", custom.lower())  # as a person types it
        page.press("#q", "Enter")
        page.wait_for_selector(f"a[href='/jobs/{job.id}']")
        page.screenshot(path=str(ARTIFACTS / "console-search.png"), full_page=True)
        page.click(f"a[href='/jobs/{job.id}']")
        assert page.inner_text("#job-state").strip() == "failed"
        assert "ann@example.com" not in page.content()  # the customer's e-mail is masked
        page.click("#retry")
        page.wait_for_url(f"**/jobs/{job.id}?done=retry")
        for _ in range(100):  # the worker runs the retry; the page shows it on reload
            if page.inner_text("#job-state").strip() == "succeeded":
                break
            page.wait_for_timeout(200)
            page.reload()
        assert page.inner_text("#job-state").strip() == "succeeded"
        assert "console:ops" in page.inner_text("body")  # who did it
        page.screenshot(path=str(ARTIFACTS / "console-job.png"), full_page=True)
        context.close()
    assert (ARTIFACTS / "console-job.png").stat().st_size > 10_000
