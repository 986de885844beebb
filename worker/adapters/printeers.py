"""Printeers (API v2, seed 000): image uploads, dropship and combined orders, cancels, tracking.

- Auth: ``X-Printeers-Secret-Key``. Bodies and answers are wrapped in the resource name.
- ``upload_image``: raw JPEG/PNG bytes (checked by magic bytes first). Printeers dedups by
  content; printrelay also remembers each content hash per account and does not send the same
  image twice (a concurrent twin may still be sent once more: harmless, Printeers dedups).
- ``submit_order`` is not idempotent and Printeers documents no way to find an order by our
  ``customIdentifier``, so an ambiguous submit goes to ``needs_review`` instead of being repeated
  (PROVIDERS.md: "never send a second submit without first checking").
- ``cancel_order`` sends absolute totals: repeating it is harmless, so it simply retries.
- Enqueue-time rules: ``missing_address`` (dropship without an address) and
  ``missing_image_reference``/``image_reference_not_allowed`` where the product kind is known
  (``PRINTRELAY_PRINTEERS__NON_PRINT_PRODUCTS`` lists the products that take no image; any other
  product is treated as a print product).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from config.settings import PrinteersSettings
from worker.adapters.base import STAND_IN, Adapter, Call, require
from worker.http import classify_status, describe, json_body, send, unreadable
from worker.outcome import Outcome
from worker.sources import is_url, read_source, sniff


def _reference(prefix: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value == STAND_IN:
            return value
        rest = value.removeprefix(prefix)
        if rest == value or len(rest) != 26 or not rest.isalnum() or rest.lower() != rest:
            raise ValueError(f"must be a Printeers reference: {prefix} followed by 26 lowercase letters or digits")
        return value

    return check


OrderReference = Annotated[str, AfterValidator(_reference("Order_"))]
ImageReference = Annotated[str, AfterValidator(_reference("Image_"))]
ProductReference = Annotated[str, AfterValidator(_reference("Product_"))]
StoreReference = Annotated[str, AfterValidator(_reference("Store_"))]


class _Open(BaseModel):
    # Fields the seed documents but printrelay has no rule for pass through untouched.
    model_config = ConfigDict(extra="allow")


class DropshipAddress(_Open):
    streetname: str = Field(min_length=1)
    zipcode: str = Field(min_length=1)
    city: str = Field(min_length=1)
    countryCode: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")


class Orderline(_Open):
    productReference: ProductReference
    imageReference: ImageReference | None = None
    quantity: int = Field(ge=1)


class Order(_Open):
    storeReference: StoreReference
    shippingKind: Literal["dropship", "combined"]
    customIdentifier: str | None = None
    dropshipAddress: DropshipAddress | None = None
    orderlines: list[Orderline] = Field(min_length=1)

    @model_validator(mode="after")
    def _address(self) -> Order:
        if self.shippingKind == "dropship" and self.dropshipAddress is None:
            raise PydanticCustomError("missing_address", "Dropship address is required for dropship orders")
        return self

    @field_validator("orderlines")
    @classmethod
    def _images(cls, lines: list[Orderline], info: ValidationInfo) -> list[Orderline]:
        settings = (info.context or {}).get("settings")
        non_print = set(getattr(settings, "non_print_products", ()))
        for index, line in enumerate(lines):
            if line.productReference in non_print and line.imageReference is not None:
                raise PydanticCustomError(
                    "image_reference_not_allowed",
                    "orderline {index}: {product} is not a print product and must not have an image reference",
                    {"index": index, "product": line.productReference},
                )
            if line.productReference not in non_print and line.imageReference is None:
                raise PydanticCustomError(
                    "missing_image_reference",
                    "orderline {index}: a print product needs an uploaded image (imageReference)",
                    {"index": index},
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
        if sniff(head) not in ("image/jpeg", "image/png"):
            raise PydanticCustomError("unsupported_image_format", "Printeers accepts JPEG and PNG images only (checked by content)")
        return source


class CancelLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    index: int = Field(ge=1)
    canceledQuantity: int = Field(ge=0, description="the desired total, not an amount to add")


class CancelOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_reference: OrderReference
    orderlines: list[CancelLine] = Field(min_length=1)

    @field_validator("orderlines")
    @classmethod
    def _unique(cls, lines: list[CancelLine]) -> list[CancelLine]:
        indexes = [line.index for line in lines]
        if len(set(indexes)) != len(indexes):
            raise ValueError("each orderline index may appear once")
        return lines


class TrackOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_reference: OrderReference


class PrinteersAdapter(Adapter):
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

    def normalize(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        if kind == "upload_image" and not is_url(payload["source"]):
            return {**payload, "source": str(Path(payload["source"]).resolve())}
        return payload

    # -- kinds ---------------------------------------------------------------------------

    def upload_image(self, call: Call) -> Outcome:
        data = read_source(call.payload["source"], call.client)
        if isinstance(data, Outcome):
            return data
        if sniff(data) not in ("image/jpeg", "image/png"):
            return Outcome.permanent("unsupported_image_format", "Printeers accepts JPEG and PNG images only (checked by content)")

        # Scoped by the organisation the key belongs to: references of one are unknown to another.
        memo_key = f"image:{self._organisation(call)}:sha256:{hashlib.sha256(data).hexdigest()}"
        if (known := call.memo.get(memo_key)) is not None:
            return Outcome.done(
                {"image_reference": known["image_reference"]}, note="identical image uploaded before: reference reused, nothing sent"
            )
        request = self._request(call, "POST", "/images", content=data, headers={"Content-Type": "application/octet-stream"})
        response = self._exchange(call, request, idempotent=True)
        if isinstance(response, Outcome):
            return response
        body = json_body(response)
        reference = None
        if isinstance(body, dict):
            image = body.get("image")
            reference = image.get("reference") if isinstance(image, dict) else body.get("imageReference")
        if not isinstance(reference, str):
            return unreadable(response, idempotent=True, expected="an image reference")
        call.memo.put(memo_key, {"image_reference": reference})
        return Outcome.done({"image_reference": reference}, http_status=response.status_code).with_request(describe(request))

    def submit_order(self, call: Call) -> Outcome:
        request = self._request(call, "POST", "/orders", json={"order": call.payload["order"]})
        response = self._exchange(call, request, idempotent=False)
        if isinstance(response, Outcome):
            return response
        body = json_body(response)
        order = body.get("order") if isinstance(body, dict) else None
        reference = order.get("reference") if isinstance(order, dict) else None
        if not isinstance(reference, str):
            return unreadable(response, idempotent=False, expected="an order reference")
        return Outcome.done({"order_reference": reference}, http_status=response.status_code).with_request(describe(request))

    def cancel_order(self, call: Call) -> Outcome:
        reference = call.payload["order_reference"]
        request = self._request(call, "POST", f"/orders/{reference}/cancel", json={"orderlines": call.payload["orderlines"]})
        response = self._exchange(call, request, idempotent=True)
        if isinstance(response, Outcome):
            return response
        return Outcome.done(
            {"order_reference": reference, "orderlines": call.payload["orderlines"]}, http_status=response.status_code
        ).with_request(describe(request))

    def track_order(self, call: Call) -> Outcome:
        reference = call.payload["order_reference"]
        request = self._request(call, "GET", f"/orders/{reference}")
        order_body = self._get_json(call, request, "order")
        if isinstance(order_body, Outcome):
            return order_body
        shipments = []
        for ref in _shipment_references(order_body):
            shipment = self._get_json(call, self._request(call, "GET", f"/shipments/{ref}"), "shipment")
            if isinstance(shipment, Outcome):
                return shipment
            shipments.append(shipment)
        return Outcome.done(
            {
                "order_reference": reference,
                "status": order_body.get("status"),
                "orderlines": order_body.get("orderlines", []),
                "shipments": shipments,
            },
            http_status=200,
        ).with_request(describe(request))

    # -- plumbing ------------------------------------------------------------------------

    def _request(self, call: Call, method: str, path: str, **kwargs: Any) -> httpx.Request:
        settings = call.settings
        assert isinstance(settings, PrinteersSettings)
        key = require(settings.secret_key, "PRINTRELAY_PRINTEERS__SECRET_KEY")
        headers = {"X-Printeers-Secret-Key": key.get_secret_value(), "Accept": "application/json", **kwargs.pop("headers", {})}
        return call.client.build_request(method, settings.base_url.rstrip("/") + path, headers=headers, **kwargs)

    def _organisation(self, call: Call) -> str:
        """A fingerprint of (base URL, key): stands for the organisation without revealing the key."""
        settings = call.settings
        assert isinstance(settings, PrinteersSettings)
        key = require(settings.secret_key, "PRINTRELAY_PRINTEERS__SECRET_KEY").get_secret_value()
        return hashlib.sha256(f"{settings.base_url}|{key}".encode()).hexdigest()[:16]

    def _get_json(self, call: Call, request: httpx.Request, wrapper: str) -> dict[str, Any] | Outcome:
        response = self._exchange(call, request, idempotent=True)
        if isinstance(response, Outcome):
            return response
        body = json_body(response)
        inner = body.get(wrapper) if isinstance(body, dict) else None
        if not isinstance(inner, dict):
            return unreadable(response, idempotent=True, expected=f"a {wrapper}")
        return inner

    def _exchange(self, call: Call, request: httpx.Request, *, idempotent: bool) -> httpx.Response | Outcome:
        """Send ``request``: a 2xx response, or the Outcome of whatever went wrong."""
        response = send(call.client, request, idempotent=idempotent)
        if isinstance(response, Outcome):
            return response
        return self._failure(response, idempotent=idempotent) or response

    def _failure(self, response: httpx.Response, *, idempotent: bool) -> Outcome | None:
        """``None`` for a 2xx; else the outcome, with Printeers' ``{code, message}`` as the error."""
        if (generic := classify_status(response, idempotent=idempotent)) is not None:
            return generic
        if response.is_success:
            return None
        body = json_body(response)
        code = body.get("code") if isinstance(body, dict) else None
        message = body.get("message") if isinstance(body, dict) else None
        status = response.status_code
        if status == 401:
            code = "unauthorized"
        return Outcome.permanent(
            str(code or f"http_{status}"),
            str(message or f"HTTP {status} without a Printeers error body"),
            http_status=status,
        ).with_request(describe(response.request))


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
