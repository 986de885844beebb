"""printrelay's own notifications: a finished job's JSON POSTed, signed, to a producer's URL.

Not a print provider, but shaped like one so that a notification waits, retries and is recorded
like any job (``jobs list --provider webhook``). Only printrelay enqueues these jobs
(:mod:`worker.notify`); a producer cannot, or printrelay would sign whatever body it was given.

Signature: the header ``PRINTRELAY_WEBHOOK__SIGNATURE_HEADER`` (``X-Printrelay-Signature``) is
``sha256=`` and the lowercase hex HMAC-SHA256 of the raw body under
``PRINTRELAY_WEBHOOK__SECRET``. ``X-Printrelay-Delivery`` is the notification's job id: the same
on every retry of one notification, so a receiver can drop repeats (delivery is at least once).

Answers: any 2xx is done; 429 and 503 + Retry-After wait as asked; 410 Gone is permanent (the
receiver says it wants no more); every other answer, and no answer, is retried with the
``notify`` policy until its deadline. A POST of the same notification twice is harmless, so a
lost answer is simply retried.
"""

from __future__ import annotations

import hashlib
import hmac

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from config.provider_settings import ProviderSettings
from worker.adapters.base import Adapter, Call, require, unwrap
from worker.adapters.registry import Provider
from worker.http import classify_status, describe, send
from worker.outcome import Outcome

SIGNATURE_PREFIX = "sha256="


class WebhookSettings(ProviderSettings):
    """Notifications to a producer's URL (``notify={"url": …}``): every POST is signed.

    The receiver checks ``signature_header``: ``sha256=`` and the hex HMAC-SHA256 of the raw body
    under ``secret``. Without a secret, an enqueue asking for a URL notification is refused.
    """

    secret: SecretStr | None = None
    signature_header: str = "X-Printrelay-Signature"
    connect_timeout: float = 5.0
    read_timeout: float = 15.0


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` + hex HMAC-SHA256 of ``body`` under ``secret``."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def check_url(value: str) -> str:
    """An absolute http(s) URL with a host: anything else cannot be POSTed to."""
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise ValueError(f"not a URL ({exc})") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("must be an absolute http:// or https:// URL")
    return value


class Delivery(BaseModel):
    """One notification: where to, and the exact bytes (as text) to send and sign."""

    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=2048)
    body: str
    #: the job the notification is about
    job_id: str

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_url(value)


class WebhookAdapter(Adapter[WebhookSettings]):
    name = "webhook"
    internal = True
    payloads = {"notify": Delivery}
    idempotent = frozenset({"notify"})
    payload_references = ()  # a delivery is found through the job it announces
    result_references = ()

    def notify(self, call: Call[WebhookSettings]) -> Outcome:
        settings = call.settings
        secret = require(settings.secret, "PRINTRELAY_WEBHOOK__SECRET").get_secret_value()
        body = call.payload["body"].encode()
        headers = {
            "Content-Type": "application/json",
            settings.signature_header: sign(secret, body),
            "X-Printrelay-Delivery": call.job_id,
            "X-Printrelay-Job": call.payload["job_id"],
        }
        request = call.client.build_request("POST", call.payload["url"], content=body, headers=headers)
        return self.classify(unwrap(send(call.client, request, idempotent=True)))

    @staticmethod
    def classify(response: httpx.Response) -> Outcome:
        status = response.status_code
        request = describe(response.request)
        if 200 <= status < 300:
            return Outcome.done({"delivered": True, "http_status": status}, http_status=status).with_request(request)
        if (generic := classify_status(response, idempotent=True)) is not None:
            return generic
        if status == 410:
            gone = "the receiver answered 410 Gone: it wants no more notifications"
            return Outcome.permanent("gone", gone, http_status=status).with_request(request)
        return Outcome.transient(f"http_{status}", f"the receiver answered HTTP {status}", http_status=status).with_request(request)


PROVIDER = Provider(
    name="webhook",
    adapter=WebhookAdapter(),
    settings=WebhookSettings,
    base_url="",
    # One bucket for all receivers; a receiver's 429 or 503 + Retry-After is honoured per job.
    rate_limits={"default": (6000, 60.0)},
    order=90,
)
