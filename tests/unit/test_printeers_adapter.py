"""The Printeers adapter against respx: request shapes, response parsing, every documented error."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from config.settings import Settings
from tests.fakes import DictMemo
from worker.adapters.base import Call
from worker.adapters.printeers import CATALOGUE_MEMO, PrinteersAdapter, PrinteersSettings, takes_image
from worker.errors import InvalidPayload
from worker.states import OutcomeKind

BASE = "https://printeers.test/v2"
KEY = "sk_unit_secret_123"
STORE = "Store_9jmn3dewwvy13rv12k7aannqzy"
PRODUCT = "Product_4j8k2m5n7p9q1r3s6t8v0w2x4y"
IMAGE = "Image_pdcptbw3k48sv03wy338bb8jzm"
ORDER = "Order_5jcavdegg8n9pvgxq887jq0zbc"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32

adapter = PrinteersAdapter()


def make_call(kind: str, payload: dict[str, Any], memo: DictMemo | None = None, **overrides: Any) -> Call:
    settings = PrinteersSettings(base_url=BASE, secret_key=KEY, **overrides)  # type: ignore[arg-type]
    return Call(
        kind=kind,
        payload=payload,
        account="default",
        settings=settings,
        client=adapter.client(settings, timeout=2),
        memo=memo or DictMemo(),
        job_id="job-1",
    )


def order(**changes: Any) -> dict[str, Any]:
    base = {
        "storeReference": STORE,
        "shippingKind": "combined",
        "orderlines": [{"productReference": PRODUCT, "imageReference": IMAGE, "quantity": 5}],
    }
    return {"order": {**base, **changes}}


def error_response(status: int, code: str, message: str = "nope") -> httpx.Response:
    return httpx.Response(status, json={"code": code, "message": message})


@pytest.fixture
def png_file(tmp_path: Path) -> Path:
    path = tmp_path / "design.png"
    path.write_bytes(PNG)
    return path


# -- requests ----------------------------------------------------------------------------------


@respx.mock
def test_upload_sends_raw_bytes_with_the_key_and_reads_the_reference(png_file: Path) -> None:
    route = respx.post(f"{BASE}/images").mock(return_value=httpx.Response(201, json={"image": {"reference": IMAGE}}))
    outcome = adapter.perform(make_call("upload_image", {"source": str(png_file)}))
    assert (outcome.kind, outcome.result) == (OutcomeKind.DONE, {"image_reference": IMAGE})
    request = route.calls.last.request
    assert request.headers["X-Printeers-Secret-Key"] == KEY
    assert request.headers["Content-Type"] == "application/octet-stream"
    assert request.content == PNG
    assert outcome.request == "POST /v2/images"


@respx.mock
def test_upload_accepts_the_other_documented_response_shape(png_file: Path) -> None:
    respx.post(f"{BASE}/images").mock(return_value=httpx.Response(200, json={"imageReference": IMAGE}))
    assert adapter.perform(make_call("upload_image", {"source": str(png_file)})).result == {"image_reference": IMAGE}


@respx.mock
def test_the_same_content_is_not_sent_twice_to_one_account(png_file: Path, tmp_path: Path) -> None:
    route = respx.post(f"{BASE}/images").mock(return_value=httpx.Response(201, json={"image": {"reference": IMAGE}}))
    memo = DictMemo()
    copy = tmp_path / "renamed.png"
    copy.write_bytes(PNG)
    first = adapter.perform(make_call("upload_image", {"source": str(png_file)}, memo))
    second = adapter.perform(make_call("upload_image", {"source": str(copy)}, memo))
    assert first.result == second.result == {"image_reference": IMAGE}
    assert route.call_count == 1
    assert second.note and "nothing sent" in second.note


@respx.mock
def test_a_fetched_source_that_is_not_jpeg_or_png_fails_before_any_upload() -> None:
    respx.get("https://files.test/x.gif").mock(return_value=httpx.Response(200, content=b"GIF89a...."))
    upload = respx.post(f"{BASE}/images")
    outcome = adapter.perform(make_call("upload_image", {"source": "https://files.test/x.gif"}))
    assert (outcome.kind, outcome.error_code) == (OutcomeKind.PERMANENT, "unsupported_image_format")
    assert upload.call_count == 0


@respx.mock
def test_submit_sends_the_wrapped_order_and_returns_its_reference() -> None:
    route = respx.post(f"{BASE}/orders").mock(return_value=httpx.Response(201, json={"order": {"reference": ORDER}}))
    payload = order(customIdentifier="my-order-123")
    outcome = adapter.perform(make_call("submit_order", payload))
    assert outcome.result == {"order_reference": ORDER}
    assert json.loads(route.calls.last.request.content) == payload


@respx.mock
def test_cancel_posts_absolute_totals_to_the_orders_cancel_path() -> None:
    route = respx.post(f"{BASE}/orders/{ORDER}/cancel").mock(return_value=httpx.Response(204))
    lines = [{"index": 1, "canceledQuantity": 3}, {"index": 2, "canceledQuantity": 2}]
    outcome = adapter.perform(make_call("cancel_order", {"order_reference": ORDER, "orderlines": lines}))
    assert outcome.kind is OutcomeKind.DONE
    assert json.loads(route.calls.last.request.content) == {"orderlines": lines}


@respx.mock
def test_track_reads_the_order_and_each_shipment() -> None:
    respx.get(f"{BASE}/orders/{ORDER}").mock(
        return_value=httpx.Response(
            200,
            json={
                "order": {
                    "reference": ORDER,
                    "status": {"code": "shipped"},
                    "orderlines": [{"index": 1}],
                    "shipments": [{"reference": "Shipment_aaaaaaaaaaaaaaaaaaaaaaaaaa"}],
                }
            },
        )
    )
    respx.get(f"{BASE}/shipments/Shipment_aaaaaaaaaaaaaaaaaaaaaaaaaa").mock(
        return_value=httpx.Response(200, json={"shipment": {"reference": "Shipment_aaaaaaaaaaaaaaaaaaaaaaaaaa", "trackingCode": "3S1"}})
    )
    outcome = adapter.perform(make_call("track_order", {"order_reference": ORDER}))
    assert outcome.result is not None
    assert outcome.result["status"] == {"code": "shipped"}
    assert outcome.result["shipments"][0]["trackingCode"] == "3S1"


# -- errors --------------------------------------------------------------------------------------


@respx.mock
@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "missing_address"),
        (400, "missing_image_reference"),
        (409, "canceled_quantity_below_current"),
        (409, "canceled_quantity_exceeds_shippable"),
        (409, "already_in_production"),
        (403, "store_not_writable_via_api"),
    ],
)
def test_documented_errors_become_the_jobs_error(status: int, code: str) -> None:
    respx.post(f"{BASE}/orders/{ORDER}/cancel").mock(return_value=error_response(status, code, "explained"))
    outcome = adapter.perform(make_call("cancel_order", {"order_reference": ORDER, "orderlines": [{"index": 1, "canceledQuantity": 1}]}))
    assert (outcome.kind, outcome.error_code, outcome.error_message, outcome.http_status) == (
        OutcomeKind.PERMANENT,
        code,
        "explained",
        status,
    )


@respx.mock
def test_401_is_unauthorized_and_never_shows_the_key() -> None:
    respx.post(f"{BASE}/orders").mock(return_value=error_response(401, "invalid_key", f"bad key {KEY}"))
    from worker.redact import Redactor

    outcome = Redactor({KEY}).redact_outcome(adapter.perform(make_call("submit_order", order())))
    assert (outcome.kind, outcome.error_code) == (OutcomeKind.PERMANENT, "unauthorized")
    assert KEY not in (outcome.error_message or "")


@respx.mock
def test_429_with_retry_after_is_throttled_for_exactly_that_long() -> None:
    respx.post(f"{BASE}/orders").mock(return_value=httpx.Response(429, headers={"Retry-After": "3"}, json={"code": "rate_limited"}))
    outcome = adapter.perform(make_call("submit_order", order()))
    assert (outcome.kind, outcome.retry_after) == (OutcomeKind.THROTTLED, 3.0)


@respx.mock
def test_429_without_retry_after_uses_the_rate_limit_reset() -> None:
    respx.post(f"{BASE}/orders").mock(return_value=httpx.Response(429, headers={"X-RateLimit": '"default";r=0;t=12'}))
    assert adapter.perform(make_call("submit_order", order())).retry_after == 12.0


@respx.mock
def test_an_html_500_is_transient_and_classified() -> None:
    respx.post(f"{BASE}/orders/{ORDER}/cancel").mock(return_value=httpx.Response(500, html="<html>oops</html>"))
    outcome = adapter.perform(make_call("cancel_order", {"order_reference": ORDER, "orderlines": [{"index": 1, "canceledQuantity": 1}]}))
    assert (outcome.kind, outcome.error_code) == (OutcomeKind.TRANSIENT, "http_500")
    assert "text/html" in (outcome.error_message or "")


@respx.mock
def test_a_success_with_an_unreadable_body_after_a_submit_is_ambiguous() -> None:
    respx.post(f"{BASE}/orders").mock(return_value=httpx.Response(200, html="<html>proxy says hi</html>"))
    outcome = adapter.perform(make_call("submit_order", order()))
    assert (outcome.kind, outcome.error_code) == (OutcomeKind.AMBIGUOUS, "bad_response")


@respx.mock
def test_a_truncated_json_body_on_an_idempotent_read_is_transient() -> None:
    respx.get(f"{BASE}/orders/{ORDER}").mock(
        return_value=httpx.Response(200, content=b'{"order": {"refer', headers={"content-type": "application/json"})
    )
    outcome = adapter.perform(make_call("track_order", {"order_reference": ORDER}))
    assert (outcome.kind, outcome.error_code) == (OutcomeKind.TRANSIENT, "bad_response")


@respx.mock
def test_a_read_timeout_after_a_submit_is_ambiguous_but_a_connect_error_is_transient() -> None:
    respx.post(f"{BASE}/orders").mock(side_effect=httpx.ReadTimeout("slow"))
    assert adapter.perform(make_call("submit_order", order())).kind is OutcomeKind.AMBIGUOUS
    respx.post(f"{BASE}/orders").mock(side_effect=httpx.ConnectError("refused"))
    outcome = adapter.perform(make_call("submit_order", order()))
    assert (outcome.kind, outcome.error_code) == (OutcomeKind.TRANSIENT, "connect_failed")


@respx.mock
def test_a_read_timeout_on_an_idempotent_cancel_is_transient() -> None:
    respx.post(f"{BASE}/orders/{ORDER}/cancel").mock(side_effect=httpx.ReadTimeout("slow"))
    outcome = adapter.perform(make_call("cancel_order", {"order_reference": ORDER, "orderlines": [{"index": 1, "canceledQuantity": 1}]}))
    assert outcome.kind is OutcomeKind.TRANSIENT


# -- enqueue-time rules -----------------------------------------------------------------------------


SCREEN = "Product_screenprotector00000000000"


def validate(kind: str, payload: Any, memo: DictMemo | None = None, **settings: Any) -> dict[str, Any]:
    return adapter.validate(kind, payload, Settings(_env_file=None, printeers=settings).printeers, memo)  # type: ignore[call-arg]


def catalogue_memo(fetched_at: datetime | None = None, **kinds: bool | None) -> DictMemo:
    """A memo holding a copy of the catalogue as :mod:`worker.catalogue` stores it."""
    memo = DictMemo()
    products = {ref: {"name": ref, "print": takes} for ref, takes in kinds.items()}
    memo.put(CATALOGUE_MEMO, {"fetched_at": (fetched_at or datetime.now(UTC)).isoformat(), "products": products})
    return memo


KNOWN = {PRODUCT: True, SCREEN: False}


@pytest.mark.parametrize(
    ("payload", "code", "field"),
    [
        (order(shippingKind="dropship"), "missing_address", "order"),
        (order(shippingKind="pigeon"), "invalid_payload", "order.shippingKind"),
        (order(storeReference="Shop_9jmn3dewwvy13rv12k7aannqzy"), "invalid_payload", "order.storeReference"),
        ({"orders": {}}, "invalid_payload", "order"),
    ],
)
def test_submit_rules_name_the_field_and_the_code(payload: dict[str, Any], code: str, field: str) -> None:
    """Seed 000: "missing_address (dropship order without a destination address)"; "Every order
    has a shipping kind" (``dropship`` or ``combined``); a reference's kind is its prefix
    (PROVIDERS.md: "References look like `Order_` + …"); bodies are wrapped (``{"order": …}``)."""
    with pytest.raises(InvalidPayload) as caught:
        validate("submit_order", payload)
    assert (caught.value.code, caught.value.field) == (code, field)


@pytest.mark.parametrize(
    "payload",
    [
        order(storeReference="Store_short"),
        order(orderlines=[{"productReference": "Product_NotTwentySixChars", "imageReference": "Image_x", "quantity": 1}]),
        order(orderlines=[{"productReference": PRODUCT, "imageReference": IMAGE, "quantity": 0}]),
        order(orderlines=[]),
        {"order": {k: v for k, v in order()["order"].items() if k != "storeReference"}},
        order(shippingKind="dropship", dropshipAddress={"city": "Aalsmeer", "countryCode": "nl"}),
    ],
)
def test_shapes_seen_only_in_examples_are_left_to_printeers(payload: dict[str, Any]) -> None:
    """Seed 000 shows references of 26 characters, quantities from 1, a storeReference and a
    full address in its examples, but states none of them as a rule: Printeers decides."""
    assert validate("submit_order", payload) == payload


def test_without_a_catalogue_copy_no_product_is_refused_for_its_image() -> None:
    """Seed 000: print products need an image, non-print ones must not have one; which is which
    only the catalogue says. With no copy, neither is assumed: the provider decides."""
    validate("submit_order", order(orderlines=[{"productReference": SCREEN, "quantity": 1}]))
    validate("submit_order", order(orderlines=[{"productReference": PRODUCT, "quantity": 1}]))
    validate("submit_order", order(orderlines=[{"productReference": SCREEN, "imageReference": IMAGE, "quantity": 1}]))


def test_a_fresh_copy_refuses_what_the_catalogue_says_is_wrong_naming_line_and_product() -> None:
    """Seed 000: "missing_image_reference (print product without an uploaded image)" and
    "Orderlines with non-print products (e.g. a screenprotector) must not have an image reference"."""
    memo = catalogue_memo(**KNOWN)
    with pytest.raises(InvalidPayload) as caught:
        validate("submit_order", order(orderlines=[{"productReference": PRODUCT, "quantity": 1}]), memo)
    assert (caught.value.code, caught.value.field) == ("missing_image_reference", "order.orderlines")
    assert "orderline 0" in str(caught.value) and PRODUCT in str(caught.value)

    mixed_wrong = [
        {"productReference": PRODUCT, "imageReference": IMAGE, "quantity": 1},
        {"productReference": SCREEN, "imageReference": IMAGE, "quantity": 1},
    ]
    with pytest.raises(InvalidPayload) as caught:
        validate("submit_order", order(orderlines=mixed_wrong), memo)
    assert caught.value.code == "image_reference_not_allowed"
    assert "orderline 1" in str(caught.value) and SCREEN in str(caught.value)


def test_a_fresh_copy_accepts_non_print_and_mixed_orders_and_unknown_products() -> None:
    """Seed 000's screen protector takes no image; a mixed order is two valid lines; a product
    the copy does not know (or whose kind it does not say) is the provider's to judge."""
    memo = catalogue_memo(**KNOWN, Product_undecided0000000000000000=None)
    validate("submit_order", order(shippingKind="combined", orderlines=[{"productReference": SCREEN, "quantity": 2}]), memo)
    mixed = [{"productReference": PRODUCT, "imageReference": IMAGE, "quantity": 1}, {"productReference": SCREEN, "quantity": 1}]
    validate("submit_order", order(orderlines=mixed), memo)
    validate("submit_order", order(orderlines=[{"productReference": "Product_new", "quantity": 1}]), memo)
    validate("submit_order", order(orderlines=[{"productReference": "Product_undecided0000000000000000", "quantity": 1}]), memo)


def test_a_stale_copy_is_not_consulted() -> None:
    """A copy older than ``catalogue_max_age`` may be wrong about a product: refuse nothing by it."""
    old = catalogue_memo(datetime.now(UTC) - timedelta(days=4), **KNOWN)
    validate("submit_order", order(orderlines=[{"productReference": PRODUCT, "quantity": 1}]), old)
    with pytest.raises(InvalidPayload):
        validate("submit_order", order(orderlines=[{"productReference": PRODUCT, "quantity": 1}]), old, catalogue_max_age=5 * 86400)


@pytest.mark.parametrize(
    "value",
    [
        {"fetched_at": "yesterday", "products": {PRODUCT: {"print": True}}},
        {"fetched_at": datetime.now(UTC).isoformat(), "products": ["not", "a", "mapping"]},
        {"products": {PRODUCT: {"print": True}}},
        {"fetched_at": datetime.now(UTC).isoformat(), "products": {PRODUCT: {"print": "yes"}}},
    ],
)
def test_an_unreadable_copy_refuses_nothing(value: dict[str, Any]) -> None:
    memo = DictMemo()
    memo.put(CATALOGUE_MEMO, value)
    validate("submit_order", order(orderlines=[{"productReference": PRODUCT, "quantity": 1}]), memo)


def test_the_non_print_setting_overrides_the_catalogue() -> None:
    """``PRINTRELAY_PRINTEERS__NON_PRINT_PRODUCTS`` names products that take no image, whatever the copy says."""
    payload = order(orderlines=[{"productReference": SCREEN, "imageReference": IMAGE, "quantity": 1}])
    with pytest.raises(InvalidPayload) as caught:
        validate("submit_order", payload, non_print_products=[SCREEN])
    assert caught.value.code == "image_reference_not_allowed"
    validate("submit_order", order(orderlines=[{"productReference": SCREEN, "quantity": 1}]), non_print_products=[SCREEN])
    memo = catalogue_memo(**{SCREEN: True})
    validate("submit_order", order(orderlines=[{"productReference": SCREEN, "quantity": 1}]), memo, non_print_products=[SCREEN])


@pytest.mark.parametrize(
    ("product", "expected"),
    [
        ({"print": True}, True),
        ({"isPrintProduct": False}, False),
        ({"requiresImage": True}, True),
        ({"kind": "non-print"}, False),
        ({"type": "Print"}, True),
        ({"name": "Screen protector"}, None),
        ({"print": "yes"}, None),
    ],
)
def test_a_products_kind_is_read_from_the_spellings_a_catalogue_may_use(product: dict[str, Any], expected: bool | None) -> None:
    """The seed does not name the field: an unreadable product is unknown, never guessed."""
    assert takes_image(product) is expected


@respx.mock
def test_the_catalogue_is_fetched_page_by_page() -> None:
    """Seed 000, "Browse the catalog: call GET /products"; PROVIDERS.md: lists carry ``nextCursor``."""
    route = respx.get(f"{BASE}/products").mock(
        side_effect=[
            httpx.Response(200, json={"products": [{"reference": PRODUCT, "name": "case", "print": True}], "nextCursor": "c2"}),
            httpx.Response(200, json={"products": [{"reference": SCREEN, "name": "screen", "print": False}], "nextCursor": None}),
        ]
    )
    outcome = adapter.fetch_catalogue(make_call("fetch_catalogue", {}))
    assert outcome.kind is OutcomeKind.DONE and outcome.result is not None
    assert outcome.result["products"] == {PRODUCT: {"name": "case", "print": True}, SCREEN: {"name": "screen", "print": False}}
    assert [c.request.url.params.get("cursor") for c in route.calls] == [None, "c2"]
    assert all(c.request.headers["X-Printeers-Secret-Key"] == KEY for c in route.calls)


@respx.mock
def test_an_odd_catalogue_answer_is_classified_not_stored() -> None:
    respx.get(f"{BASE}/products").mock(return_value=httpx.Response(200, text="<html>maintenance</html>"))
    outcome = adapter.fetch_catalogue(make_call("fetch_catalogue", {}))
    assert outcome.kind is OutcomeKind.TRANSIENT and outcome.result is None


def test_a_job_reference_counts_as_an_image_reference() -> None:
    payload = order(orderlines=[{"productReference": PRODUCT, "imageReference": {"$job": "abc", "path": "image_reference"}, "quantity": 1}])
    assert validate("submit_order", payload) == payload


def test_upload_rules(tmp_path: Path, png_file: Path) -> None:
    gif = tmp_path / "x.png"
    gif.write_bytes(b"GIF89a" + b"\x00" * 20)
    with pytest.raises(InvalidPayload) as caught:
        validate("upload_image", {"source": str(gif)})
    assert (caught.value.code, caught.value.field) == ("unsupported_image_format", "source")
    with pytest.raises(InvalidPayload, match="source: no such file"):
        validate("upload_image", {"source": str(tmp_path / "missing.png")})
    normalised = validate(
        "upload_image", {"source": str(png_file.relative_to(Path.cwd())) if png_file.is_relative_to(Path.cwd()) else str(png_file)}
    )
    assert Path(normalised["source"]).is_absolute()


def test_cancel_rules() -> None:
    """Seed 000: the cancel body lists orderlines by ``index`` with ``canceledQuantity`` (absolute
    totals); an order reference starts ``Order_``. Duplicates, negatives and unknown lines are
    Printeers' to refuse ("The request is atomic: when any listed orderline fails validation,
    nothing is canceled")."""
    with pytest.raises(InvalidPayload, match=r"orderlines\[0\].canceledQuantity"):
        validate("cancel_order", {"order_reference": ORDER, "orderlines": [{"index": 1}]})
    with pytest.raises(InvalidPayload, match="order_reference"):
        validate("cancel_order", {"order_reference": "5jcavdegg8n9pvgxq887jq0zbc", "orderlines": [{"index": 1, "canceledQuantity": 1}]})
    lines = [{"index": 1, "canceledQuantity": 1}, {"index": 1, "canceledQuantity": -1}]
    assert validate("cancel_order", {"order_reference": ORDER, "orderlines": lines})["orderlines"] == lines


@respx.mock
def test_the_key_goes_only_to_printeers_not_to_where_a_design_is_fetched() -> None:
    """The client's auth is scoped to the base URL: a design fetched from the producer's host
    through the same client leaves without the secret key."""
    design = respx.get("https://designs.example/cat.png").mock(return_value=httpx.Response(200, content=PNG))
    upload = respx.post(f"{BASE}/images").mock(return_value=httpx.Response(201, json={"image": {"reference": IMAGE}}))
    outcome = adapter.perform(make_call("upload_image", {"source": "https://designs.example/cat.png"}))
    assert outcome.kind is OutcomeKind.DONE, outcome
    assert "x-printeers-secret-key" not in design.calls.last.request.headers
    assert upload.calls.last.request.headers["x-printeers-secret-key"] == KEY
