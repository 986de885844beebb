"""Notifications: the webhook's signature and answers, and the rules of ``notify=``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from config.settings import Settings
from tests.fakes import DictMemo
from worker import notify
from worker.adapters.base import Call
from worker.adapters.webhook import WebhookAdapter, WebhookSettings, sign
from worker.errors import InvalidPayload
from worker.states import OutcomeKind

URL = "https://shop.test/hooks/printrelay?token=t0k3n"
BODY = '{"id":"j1","state":"succeeded"}'
adapter = WebhookAdapter()


def make_call(**settings: Any) -> Call:
    return Call(
        kind="notify",
        payload={"url": URL, "body": BODY, "job_id": "j1"},
        account="default",
        settings=WebhookSettings(secret="whsec-test-123", **settings),  # type: ignore[arg-type]
        client=httpx.Client(timeout=2),
        memo=DictMemo(),
        job_id="n1",
    )


def test_the_signature_matches_an_independent_computation() -> None:
    # printf '%s' '{"id":"j1","state":"succeeded"}' | openssl dgst -sha256 -hmac whsec-test-123
    assert sign("whsec-test-123", BODY.encode()) == "sha256=7d933acc38fa2aafe63d21b4ba612139f78f4996ab302d7e013fa63fef5a61f7"


@respx.mock
def test_the_post_carries_the_exact_body_signed_and_the_delivery_id() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(204))
    outcome = adapter.perform(make_call(signature_header="X-Shop-Signature"))
    assert outcome.kind is OutcomeKind.DONE and outcome.result == {"delivered": True, "http_status": 204}
    request = route.calls.last.request
    assert request.content == BODY.encode()
    assert request.headers["X-Shop-Signature"] == "sha256=7d933acc38fa2aafe63d21b4ba612139f78f4996ab302d7e013fa63fef5a61f7"
    assert request.headers["X-Printrelay-Delivery"] == "n1" and request.headers["X-Printrelay-Job"] == "j1"
    assert request.headers["Content-Type"] == "application/json"
    assert "whsec-test-123" not in str(outcome) and "t0k3n" not in (outcome.request or "")


@pytest.mark.parametrize(
    ("response", "kind", "code"),
    [
        (httpx.Response(200, text="ok"), OutcomeKind.DONE, None),
        (httpx.Response(503, headers={"Retry-After": "7"}), OutcomeKind.THROTTLED, "throttled"),
        (httpx.Response(429), OutcomeKind.THROTTLED, "throttled"),
        (httpx.Response(503, text="<html>down</html>", headers={"Content-Type": "text/html"}), OutcomeKind.TRANSIENT, "http_503"),
        (httpx.Response(404), OutcomeKind.TRANSIENT, "http_404"),
        (httpx.Response(400, json={"error": "bad signature"}), OutcomeKind.TRANSIENT, "http_400"),
        (httpx.Response(410), OutcomeKind.PERMANENT, "gone"),
    ],
)
@respx.mock
def test_answers_are_classified(response: httpx.Response, kind: OutcomeKind, code: str | None) -> None:
    respx.post(URL).mock(return_value=response)
    outcome = adapter.perform(make_call())
    assert (outcome.kind, outcome.error_code) == (kind, code)
    if outcome.kind is OutcomeKind.THROTTLED and response.status_code == 503:
        assert outcome.retry_after == 7


@respx.mock
def test_no_connection_is_retried_not_failed() -> None:
    respx.post(URL).mock(side_effect=httpx.ConnectError("refused"))
    assert adapter.perform(make_call()).kind is OutcomeKind.TRANSIENT
    respx.post(URL).mock(side_effect=httpx.ReadTimeout("slow"))
    assert adapter.perform(make_call()).kind is OutcomeKind.TRANSIENT  # repeating a notification is harmless


def settings(secret: str | None = "whsec-test-123") -> Settings:
    return Settings(_env_file=None, webhook={"secret": secret})  # type: ignore[call-arg]


def test_notify_is_normalised() -> None:
    assert notify.check({"task": "shop.done"}, settings()) == {"task": "shop.done", "queue": "celery"}
    assert notify.check({"url": URL, "task": "t", "queue": "shop"}, settings()) == {"url": URL, "task": "t", "queue": "shop"}
    assert notify.check(None, settings()) is None


@pytest.mark.parametrize(
    ("value", "field", "rule"),
    [
        ({}, "notify", "give a task name, a url, or both"),
        ("shop.done", "notify", "must be an object"),
        ({"url": "ftp://shop.test/x"}, "notify.url", "http:// or https://"),
        ({"url": "/hooks"}, "notify.url", "absolute"),
        ({"task": ""}, "notify.task", "at least 1 character"),
        ({"task": "t", "email": "x@y.z"}, "notify.email", "Extra inputs"),
    ],
)
def test_bad_notify_is_refused_naming_the_field(value: Any, field: str, rule: str) -> None:
    with pytest.raises(InvalidPayload) as refused:
        notify.check(value, settings())
    assert refused.value.field == field and rule in refused.value.rule


def test_a_url_needs_the_signing_secret() -> None:
    with pytest.raises(InvalidPayload) as refused:
        notify.check({"url": URL}, settings(secret=None))
    assert refused.value.field == "notify.url" and "PRINTRELAY_WEBHOOK__SECRET" in refused.value.rule
    assert notify.check({"task": "shop.done"}, settings(secret=None)) == {"task": "shop.done", "queue": "celery"}
