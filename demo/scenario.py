"""The demo's story: a day's work across the five providers, each showing what printrelay is for.

- **Printeers**: a print image uploaded, the same image again (not sent twice), a GIF refused by
  its content, an order that uses the image's reference (a dependency) which the sandbox
  throttles once (Retry-After honoured), and an order enqueued together with its image.
- **Print API**: an order, its print file uploaded to the item's upload URL, polled to accepted.
- **Ideal Factory**: an order with print files, polled ``received → processing → ready`` and
  downloaded.
- **PrintNow**: the print-ready ZIP of an order, which answers 409 + Retry-After first, then
  shipped with a tracking number.
- **Printlane**: an order pushed through a short outage, then updated; one without designs skipped.

Each step records what it enqueued and the state it should end in; the demo checks them all.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from worker.errors import InvalidPayload
from worker.flows import enqueue_printapi_order_with_files, enqueue_with_images
from worker.jobview import JobInfo
from worker.queries import wait_for
from worker.runtime import Runtime

PRINTEERS_STORE = "Store_9jmn3dewwvy13rv12k7aannqzy"
PRINTEERS_PRODUCT = "Product_4j8k2m5n7p9q1r3s6t8v0w2x4y"
ADDRESS = {"name": "Print API", "line1": "Osloweg 75", "postCode": "9700 GE", "city": "Groningen", "country": "NL"}


@dataclass(frozen=True)
class Planned:
    label: str
    provider: str
    job_id: str
    expected: str


@dataclass
class Scenario:
    """Runs the steps (in a thread of the demo) and keeps the list of what it enqueued."""

    runtime: Runtime
    sandbox: str
    workdir: Path
    jobs: list[Planned] = field(default_factory=list)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    #: what was refused before anything was stored, as the producer would see it
    refusals: list[str] = field(default_factory=list)
    #: steps that need an earlier job to have ended first: (that job, the step)
    later: list[tuple[JobInfo, Callable[[], None]]] = field(default_factory=list)

    def run(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.prepare_sandbox()
        steps: list[Callable[[], None]] = [self.printeers, self.printapi, self.idealfactory, self.printnow, self.printlane]
        for step in steps:
            step()
        for first, step in self.later:
            wait_for(first.id, timeout=120, runtime=self.runtime)
            step()

    # -- the sandbox's side of the story --------------------------------------------------

    def prepare_sandbox(self) -> None:
        from worker.adapters.printlane import PrintlaneSettings

        printlane = self.runtime.settings.provider("printlane")
        assert isinstance(printlane, PrintlaneSettings)
        control = httpx.Client(base_url=self.sandbox, timeout=10)
        control.post(
            "/_sandbox/knobs/printeers", json={"faults": [{"kind": "throttle", "retry_after": 2, "method": "POST", "path": "/orders"}]}
        )
        control.post("/_sandbox/printapi/config", json={"download_delay": 1})
        control.post("/_sandbox/idealfactory/config", json={"step_seconds": 1})
        control.post("/_sandbox/printnow/config", json={"merge_seconds": 4, "retry_after_scale": 0.04})  # Retry-After 2.4 s
        control.post(
            "/_sandbox/printlane/stores",
            json={
                "store_id": printlane.store_id,
                "api_key": printlane.api_key.get_secret_value() if printlane.api_key else "",
                "api_secret": printlane.api_secret.get_secret_value() if printlane.api_secret else "",
                "domains": ["shop.example"],
            },
        )
        for name in ("sample.png", "other.png", "sample.pdf"):
            (self.workdir / name).write_bytes(control.get(f"/_sandbox/files/{name}").content)
        (self.workdir / "design-again.png").write_bytes((self.workdir / "sample.png").read_bytes())
        (self.workdir / "animation.gif").write_bytes(b"GIF89a" + b"\0" * 32)
        control.close()

    # -- the providers ---------------------------------------------------------------------

    def printeers(self) -> None:
        image = self.add("print image", "upload_image", "printeers", {"source": str(self.workdir / "sample.png")})
        try:
            self.runtime.intake.enqueue("upload_image", "printeers", {"source": str(self.workdir / "animation.gif")})
        except InvalidPayload as refused:
            self.refusals.append(f"a local GIF, refused at enqueue ({refused.code}): {refused}")
        gif = f"{self.sandbox}/_sandbox/files/not-an-image.gif"  # a URL: its content is only seen when the upload runs
        self.add("a GIF by URL (refused by its content)", "upload_image", "printeers", {"source": gif}, "failed")
        line = {"productReference": PRINTEERS_PRODUCT, "imageReference": {"$job": image.id, "path": "image_reference"}, "quantity": 2}
        order = {
            "storeReference": PRINTEERS_STORE,
            "shippingKind": "combined",
            "customIdentifier": f"demo-{self.run_id}",
            "orderlines": [line],
        }
        first = self.add("order using that image (throttled once)", "submit_order", "printeers", {"order": order})
        self.after(
            image, "the same image again (not sent twice)", "upload_image", "printeers", {"source": str(self.workdir / "design-again.png")}
        )
        self.later.append((first, lambda: self.order_with_its_image(order)))

    def order_with_its_image(self, order: dict[str, Any]) -> None:
        lines = [{**order["orderlines"][0], "imageReference": {"$image": "back"}}]
        placed, uploads = enqueue_with_images(
            self.runtime.intake,
            "submit_order",
            "printeers",
            {"order": {**order, "customIdentifier": f"demo-{self.run_id}-2", "orderlines": lines}},
            {"back": str(self.workdir / "other.png")},
        )
        self.jobs += [
            Planned("an order with its image, in one call: the upload…", "printeers", uploads["back"].id, "succeeded"),
            Planned("…and the order, once the upload is done", "printeers", placed.id, "succeeded"),
        ]

    def printapi(self) -> None:
        order = {
            "id": f"demo-{self.run_id}",
            "email": "shop@example.com",
            "items": [{"productId": "poster_a3_sta", "quantity": 10}],
            "shipping": {"preference": "Tracked", "address": ADDRESS},
        }
        submit, uploads, poll = enqueue_printapi_order_with_files(self.runtime.intake, order, {0: str(self.workdir / "sample.pdf")})
        self.jobs += [
            Planned("order", "printapi", submit.id, "succeeded"),
            Planned("its print file, to the item's upload URL", "printapi", uploads[0].id, "succeeded"),
            Planned("polled until the file is accepted", "printapi", poll.id, "succeeded"),
        ]

    def idealfactory(self) -> None:
        item = f"ITEM-{self.run_id}"
        order = {
            "ecommerce_order_id": f"ORD-{self.run_id}",
            "create_print_files": True,
            "items": [
                {
                    "ecommerce_order_item_id": item,
                    "ecommerce_variant_id": "V-1",
                    "quantity": 1,
                    "template_config": {"text": "printrelay"},
                    "thumbnails": ["https://cdn.example/thumb.png"],
                }
            ],
            "shippings": [{"code": "STANDARD", "shipping_price": 4.95}],
        }
        submit = self.add("order with print files", "submit_order", "idealfactory", order)
        self.after(
            submit,
            "print file polled to ready, downloaded",
            "poll_print_file",
            "idealfactory",
            {"ecommerce_order_item_id": item, "download": True},
        )

    def printnow(self) -> None:
        made = httpx.post(f"{self.sandbox}/_sandbox/printnow/orders", json={"items": 2}, timeout=10).json()
        order_id = made["order"]["id"]
        download = self.add("print-ready ZIP (409 + Retry-After first)", "poll_print_file", "printnow", {"order_id": order_id})
        self.after(
            download,
            "marked shipped with a tracking number",
            "update_status",
            "printnow",
            {"order_id": order_id, "shipped": True, "tracking_number": "3SDEMO0001"},
        )

    def printlane(self) -> None:
        items = [{"id": 123, "token": "a462a062-7987-4a44-b35f-7009b141fb33", "quantity": 2, "price": 12.5}]
        order: dict[str, Any] = {"orderId": f"PL-{self.run_id}", "email": "john.doe@example.com", "status": "Created", "lineItems": items}
        httpx.post(f"{self.sandbox}/_sandbox/knobs/printlane", json={"outage_seconds": 3}, timeout=10)  # 503s from now on, for 3 s
        self.add("order pushed through a short outage", "submit_order", "printlane", order)
        self.add("the same order updated (runs after the push)", "update_order", "printlane", {**order, "status": "Paid"})
        self.add(
            "an order without designs (not sent)",
            "submit_order",
            "printlane",
            {"orderId": f"PL-{self.run_id}-empty", "lineItems": []},
            "skipped",
        )

    # -- plumbing ----------------------------------------------------------------------------

    def add(self, label: str, kind: str, provider: str, payload: dict[str, Any], expected: str = "succeeded") -> JobInfo:
        job = self.runtime.intake.enqueue(kind, provider, payload)
        self.jobs.append(Planned(label, provider, job.id, expected))
        return job

    def after(self, first: JobInfo, label: str, kind: str, provider: str, payload: dict[str, Any]) -> None:
        """Enqueue once ``first`` has ended (a step that needs it done, not its result)."""

        def step() -> None:
            self.add(label, kind, provider, payload)

        self.later.append((first, step))
