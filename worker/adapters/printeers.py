"""Printeers (API v2, seed 000): image uploads, dropship and combined orders, cancels, tracking.

- Auth: ``X-Printeers-Secret-Key``. Bodies and answers are wrapped in the resource name.
- ``upload_image``: raw JPEG/PNG bytes (checked by magic bytes first). Printeers dedups by
  content; printrelay also remembers each content hash per account and does not send the same
  image twice (a concurrent twin may still be sent once more: harmless, Printeers dedups).
- ``submit_order`` is not idempotent and Printeers documents no way to find an order by our
  ``customIdentifier``, so an ambiguous submit goes to ``needs_review`` instead of being repeated
  (PROVIDERS.md: "never send a second submit without first checking").
- ``cancel_order`` sends absolute totals: repeating it is harmless, so it simply retries.

Enqueue-time rules refuse only what a document says (each rule names its sentence below);
everything else is Printeers' to decide, and its error code becomes the job's error:

- ``missing_address``: a dropship order without ``dropshipAddress``.
- ``missing_image_reference`` / ``image_reference_not_allowed``: only for a product whose kind
  the account's copy of the catalogue knows (``GET /products``, kept by
  :mod:`worker.catalogue`), or that ``PRINTRELAY_PRINTEERS__NON_PRINT_PRODUCTS`` names. A
  product the copy does not know, or no (fresh) copy at all: the order goes to Printeers.
- References keep their documented prefix only (``Order_``, ``Image_``, …); their length and
  alphabet are seen in examples, not promised.

Which field of a catalogue product says "print product" is not documented: :func:`takes_image`
reads the plausible spellings and treats a product it cannot read as unknown (accepted).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import NoDecode

from config.provider_settings import ProviderSettings
from worker.adapters.auth import HeaderAuth
from worker.adapters.base import STAND_IN, Adapter, Call, Failed, Memo, document, require, unwrap
from worker.adapters.registry import Provider, SandboxSpec
from worker.http import describe, json_body, unreadable
from worker.outcome import Outcome
from worker.sources import is_url, read_source, sniff

#: The memo key of an account's copy of the catalogue (see :mod:`worker.catalogue`).
CATALOGUE_MEMO = "catalogue"
#: Pages of ``GET /products`` followed at most (a runaway cursor must not loop forever).
MAX_CATALOGUE_PAGES = 200


#: The live API base URL (PRINTRELAY_PRINTEERS__BASE_URL overrides it).
LIVE_URL = "https://api.printeers.com/v2"


class PrinteersSettings(ProviderSettings):
    base_url: str = LIVE_URL
    secret_key: SecretStr | None = None
    #: Product references that take no print image (e.g. screen protectors), over what the
    #: account's copy of the catalogue says: an override for shops that want one.
    non_print_products: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: A copy of the catalogue older than this (seconds) is not consulted at enqueue (it is
    #: refreshed daily; a copy this old means refreshing has failed for days).
    catalogue_max_age: float = Field(default=3 * 86400.0, gt=0)

    @field_validator("non_print_products", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value


def _reference(prefix: str) -> Callable[[str], str]:
    # PROVIDERS.md: "References look like `Order_` + 26 characters": the prefix is the
    # reference's kind; the length is an observation, so only the prefix is checked.
    def check(value: str) -> str:
        if value == STAND_IN or value.startswith(prefix):
            return value
        raise ValueError(f"must be a Printeers reference starting with {prefix}")

    return check


OrderReference = Annotated[str, AfterValidator(_reference("Order_"))]
ImageReference = Annotated[str, AfterValidator(_reference("Image_"))]
ProductReference = Annotated[str, AfterValidator(_reference("Product_"))]
StoreReference = Annotated[str, AfterValidator(_reference("Store_"))]


class _Open(BaseModel):
    # Fields the seed documents but printrelay has no rule for pass through untouched.
    model_config = ConfigDict(extra="allow")


def takes_image(product: Mapping[str, Any]) -> bool | None:
    """Whether a catalogue product is a print product (needs an image), or ``None`` if the
    product does not say. The field is undocumented, so the plausible spellings are read.

    >>> takes_image({"reference": "Product_x", "print": False}), takes_image({"kind": "print"}), takes_image({})
    (False, True, None)
    """
    for name in ("print", "isPrint", "isPrintProduct", "printable", "requiresImage", "requiresPrintImage"):
        if isinstance(product.get(name), bool):
            return bool(product[name])
    for name in ("kind", "type", "productKind", "productType"):
        value = product.get(name)
        if isinstance(value, str):
            word = value.lower().replace("-", "_").replace(" ", "_")
            if word in ("print", "print_product", "printed"):
                return True
            if word in ("non_print", "nonprint", "non_print_product", "accessory", "blank"):
                return False
    return None


class Catalogue:
    """An account's copy of the catalogue as the enqueue-time rules see it.

    Built from the memo :mod:`worker.catalogue` keeps. A copy older than ``max_age`` seconds is
    not consulted (a product may have changed since); an unreadable one neither.
    """

    def __init__(self, kinds: Mapping[str, bool], fetched_at: datetime | None = None) -> None:
        self.kinds, self.fetched_at = dict(kinds), fetched_at

    @classmethod
    def from_memo(cls, memo: Memo | None, *, max_age: float, now: datetime | None = None) -> Catalogue:
        """The usable copy in ``memo``; an empty catalogue (knows nothing) if there is none,
        it is stale, or it cannot be read."""
        try:
            value = memo.get(CATALOGUE_MEMO) if memo is not None else None
            if not value:
                return cls({})
            fetched_at = datetime.fromisoformat(str(value["fetched_at"]))
            if fetched_at.tzinfo is None:
                fetched_at = fetched_at.replace(tzinfo=UTC)
            if ((now or datetime.now(UTC)) - fetched_at).total_seconds() > max_age:
                return cls({})
            products = value["products"]
            kinds = {str(ref): bool(p["print"]) for ref, p in products.items() if isinstance(p, dict) and isinstance(p.get("print"), bool)}
            return cls(kinds, fetched_at)
        except Exception:  # an unreadable copy refuses nothing: the provider decides
            return cls({})

    def takes_image(self, product: str) -> bool | None:
        return self.kinds.get(product)


class DropshipAddress(_Open):
    # Seed 000 lists the address's fields in its example only; Printeers decides what is missing.
    pass


class Orderline(_Open):
    productReference: ProductReference
    imageReference: ImageReference | None = None
    quantity: int


class Order(_Open):
    storeReference: StoreReference | None = None
    # Seed 000: "Every order has a shipping kind", and the table lists `dropship` and `combined`.
    shippingKind: Literal["dropship", "combined"]
    customIdentifier: str | None = None
    dropshipAddress: DropshipAddress | None = None
    orderlines: list[Orderline]

    @model_validator(mode="after")
    def _address(self) -> Order:
        # Seed 000: "missing_address (dropship order without a destination address)".
        if self.shippingKind == "dropship" and self.dropshipAddress is None:
            raise PydanticCustomError("missing_address", "Dropship address is required for dropship orders")
        return self

    @field_validator("orderlines")
    @classmethod
    def _images(cls, lines: list[Orderline], info: ValidationInfo) -> list[Orderline]:
        # Seed 000: "Print products require a print image" / "missing_image_reference (print
        # product without an uploaded image)" / "Orderlines with non-print products (e.g. a
        # screenprotector) must not have an image reference". Which products are which is the
        # catalogue's to say: only a product it (or the override setting) knows is checked.
        context = info.context or {}
        catalogue: Catalogue = context.get("catalogue") or Catalogue({})
        non_print = set(getattr(context.get("settings"), "non_print_products", ()))
        for index, line in enumerate(lines):
            product = line.productReference
            takes = False if product in non_print else catalogue.takes_image(product)
            if takes is False and line.imageReference is not None:
                raise PydanticCustomError(
                    "image_reference_not_allowed",
                    "orderline {index}: {product} is not a print product and must not have an image reference",
                    {"index": index, "product": product},
                )
            if takes is True and line.imageReference is None:
                raise PydanticCustomError(
                    "missing_image_reference",
                    "orderline {index}: {product} is a print product and needs an uploaded image (imageReference)",
                    {"index": index, "product": product},
                )
        return lines


class SubmitOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order: Order


class UploadImage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(min_length=1, description="a local path or an http(s) URL")

    @field_validator("source")
    @classmethod
    def _readable(cls, source: str) -> str:
        if is_url(source):
            return source
        path = Path(source)
        if not path.is_file():
            raise ValueError("no such file (give a readable local path or an http(s) URL)")
        with path.open("rb") as handle:
            head = handle.read(16)
        # Seed 000: "Accepted formats are JPEG and PNG."
        if sniff(head) not in ("image/jpeg", "image/png"):
            raise PydanticCustomError("unsupported_image_format", "Printeers accepts JPEG and PNG images only (checked by content)")
        return source


class CancelLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    index: int
    # Seed 000: "canceledQuantity is the desired total canceled quantity of that line".
    canceledQuantity: int = Field(description="the desired total, not an amount to add")


class CancelOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_reference: OrderReference
    orderlines: list[CancelLine]


class TrackOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_reference: OrderReference


class PrinteersAdapter(Adapter[PrinteersSettings]):
    name = "printeers"
    payloads = {
        "upload_image": UploadImage,
        "submit_order": SubmitOrder,
        "cancel_order": CancelOrder,
        "track_order": TrackOrder,
    }
    # Uploads are deduplicated by Printeers; cancels carry absolute totals; tracking only reads.
    idempotent = frozenset({"upload_image", "cancel_order", "track_order"})
    error_codes = frozenset({"missing_address", "missing_image_reference", "image_reference_not_allowed", "unsupported_image_format"})
    extra_buckets = {"upload_image": ("uploads",)}
    has_catalogue = True
    # seed 000: "customIdentifier" is the shop's own order id; a dropship order carries the
    # customer's name, address, phone number and e-mail
    payload_references = (*Adapter.payload_references, "order.customIdentifier")
    customer_data = ("order.dropshipAddress",)

    def auth(self, settings: PrinteersSettings, remember: Callable[[str], None]) -> httpx.Auth:
        """``X-Printeers-Secret-Key`` on every request (PROVIDERS.md, "Auth: one header")."""
        return HeaderAuth(settings.base_url, lambda: {"X-Printeers-Secret-Key": _key(settings)})

    def rule_context(self, kind: str, settings: PrinteersSettings, memo: Memo | None) -> dict[str, Any]:
        context = super().rule_context(kind, settings, memo)
        if kind == "submit_order":
            context["catalogue"] = Catalogue.from_memo(memo, max_age=settings.catalogue_max_age)
        return context

    def normalize(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        if kind == "upload_image" and not is_url(payload["source"]):
            return {**payload, "source": str(Path(payload["source"]).resolve())}
        return payload

    # -- kinds ---------------------------------------------------------------------------

    def upload_image(self, call: Call[PrinteersSettings]) -> Outcome:
        data = unwrap(read_source(call.payload["source"], call.client))
        if sniff(data) not in ("image/jpeg", "image/png"):
            return Outcome.permanent("unsupported_image_format", "Printeers accepts JPEG and PNG images only (checked by content)")

        # Scoped by the organisation the key belongs to: references of one are unknown to another.
        memo_key = f"image:{_organisation(call.settings)}:sha256:{hashlib.sha256(data).hexdigest()}"
        if (known := call.memo.get(memo_key)) is not None:
            return Outcome.done(
                {"image_reference": known["image_reference"]}, note="identical image uploaded before: reference reused, nothing sent"
            )
        response = self.exchange(
            call, "POST", "/images", idempotent=True, content=data, headers={"Content-Type": "application/octet-stream"}
        )
        body = json_body(response)
        reference = None
        if isinstance(body, dict):
            image = body.get("image")
            reference = image.get("reference") if isinstance(image, dict) else body.get("imageReference")
        if not isinstance(reference, str):
            return unreadable(response, idempotent=True, expected="an image reference")
        call.memo.put(memo_key, {"image_reference": reference})
        return Outcome.done({"image_reference": reference}, http_status=response.status_code).with_request(describe(response.request))

    def submit_order(self, call: Call[PrinteersSettings]) -> Outcome:
        response = self.exchange(call, "POST", "/orders", idempotent=False, json={"order": call.payload["order"]})
        order = document(response, idempotent=False, expected="an order reference", inside="order")
        if not isinstance(reference := order.get("reference"), str):
            return unreadable(response, idempotent=False, expected="an order reference")
        return Outcome.done({"order_reference": reference}, http_status=response.status_code).with_request(describe(response.request))

    def cancel_order(self, call: Call[PrinteersSettings]) -> Outcome:
        reference = call.payload["order_reference"]
        response = self.exchange(
            call, "POST", f"/orders/{reference}/cancel", idempotent=True, json={"orderlines": call.payload["orderlines"]}
        )
        return Outcome.done(
            {"order_reference": reference, "orderlines": call.payload["orderlines"]}, http_status=response.status_code
        ).with_request(describe(response.request))

    def track_order(self, call: Call[PrinteersSettings]) -> Outcome:
        reference = call.payload["order_reference"]
        response = self.exchange(call, "GET", f"/orders/{reference}", idempotent=True)
        order = document(response, idempotent=True, expected="a order", inside="order")
        shipments = [
            document(
                self.exchange(call, "GET", f"/shipments/{ref}", idempotent=True), idempotent=True, expected="a shipment", inside="shipment"
            )
            for ref in _shipment_references(order)
        ]
        return Outcome.done(
            {
                "order_reference": reference,
                "status": order.get("status"),
                "orderlines": order.get("orderlines", []),
                "shipments": shipments,
            },
            http_status=200,
        ).with_request(describe(response.request))

    def fetch_catalogue(self, call: Call[PrinteersSettings]) -> Outcome:
        """``GET /products`` (seed 000, "Browse the catalog"), every page: done with
        ``{"products": {reference: {"name", "print"}}}`` where ``print`` may be ``None``
        (the product does not say), else the Outcome of what went wrong."""
        try:
            products: dict[str, dict[str, Any]] = {}
            cursor: str | None = None
            first: httpx.Request | None = None
            for _ in range(MAX_CATALOGUE_PAGES):
                response = self.exchange(call, "GET", "/products", idempotent=True, params={"cursor": cursor} if cursor else None)
                first = first or response.request
                body = json_body(response)
                page = body.get("products") if isinstance(body, dict) else None
                if not isinstance(body, dict) or not isinstance(page, list):
                    return unreadable(response, idempotent=True, expected="a list of products")
                for product in page:
                    if isinstance(product, dict) and isinstance(product.get("reference"), str):
                        products[product["reference"]] = {"name": product.get("name"), "print": takes_image(product)}
                cursor = body.get("nextCursor")
                if not cursor or not isinstance(cursor, str):
                    break
            else:
                return Outcome.transient("catalogue_too_long", f"more than {MAX_CATALOGUE_PAGES} pages of products")
        except Failed as failed:
            return failed.outcome
        assert first is not None
        return Outcome.done({"products": products}, http_status=200).with_request(describe(first))

    # -- the provider's error map ---------------------------------------------------------

    def refusal(self, response: httpx.Response) -> Outcome:
        """Printeers' ``{code, message}`` (seed 000) is the job's error; a 401 is ``unauthorized``."""
        body = json_body(response)
        code = body.get("code") if isinstance(body, dict) else None
        message = body.get("message") if isinstance(body, dict) else None
        status = response.status_code
        if status == 401:
            code = "unauthorized"
        return Outcome.permanent(
            str(code or f"http_{status}"), str(message or f"HTTP {status} without a Printeers error body"), http_status=status
        )


def _key(settings: PrinteersSettings) -> str:
    return str(require(settings.secret_key, "PRINTRELAY_PRINTEERS__SECRET_KEY").get_secret_value())


def _organisation(settings: PrinteersSettings) -> str:
    """A fingerprint of (base URL, key): stands for the organisation without revealing the key."""
    return hashlib.sha256(f"{settings.base_url}|{_key(settings)}".encode()).hexdigest()[:16]


def _shipment_references(order: dict[str, Any]) -> list[str]:
    """Shipment references of an order; the docs name the field only in prose, so accept both
    ``shipments: [{"reference": …}]`` and ``shipmentReferences: […]``."""
    refs: list[str] = []
    for item in order.get("shipments") or []:
        ref = item.get("reference") if isinstance(item, dict) else item
        if isinstance(ref, str):
            refs.append(ref)
    refs.extend(r for r in order.get("shipmentReferences") or [] if isinstance(r, str))
    return list(dict.fromkeys(refs))


PROVIDER = Provider(
    name="printeers",
    adapter=PrinteersAdapter(),
    settings=PrinteersSettings,
    base_url=LIVE_URL,
    # PROVIDERS.md: per organisation, refilled continuously; an upload takes from default and uploads.
    rate_limits={"default": (3000, 60.0), "uploads": (5000, 86400.0), "downloads": (100000, 86400.0)},
    sandbox=SandboxSpec(
        prefix="/printeers/v2",
        app="sandbox.printeers:create_printeers",
        state="sandbox.printeers:PrinteersState",
        settings=lambda base_url, tag: {"base_url": base_url, "secret_key": tag},
        controls="sandbox.printeers:controls",
    ),
    order=10,
)
