"""Local copies of the providers' catalogues, one per (provider, account), for enqueue-time rules.

Printeers says which products are print products (they need an image) and which are not (they
must not have one) only in its catalogue (``GET /products``). Enqueue must never call the
network, so beat keeps a copy per account in the ``memos`` table: :func:`refresh_due` (hourly)
refetches copies older than a day, and ``printrelay catalogue refresh`` refetches on demand.

A product the copy does not know, or an account with no copy yet, refuses nothing: the order
goes to the provider, whose own error code becomes the job's error. So a failed refresh costs
only an earlier refusal, never a wrong one.

The fetch takes its slot from the provider's rate-limit buckets like any call.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from worker.adapters import ADAPTERS
from worker.adapters.base import Call
from worker.adapters.printeers import CATALOGUE_MEMO
from worker.errors import NotConfigured
from worker.runtime import Runtime
from worker.states import OutcomeKind
from worker.store.memo import StoreMemo

log = logging.getLogger("printrelay.catalogue")
#: A copy older than this is refetched by beat.
REFRESH_AFTER = 86400.0


@dataclass(frozen=True)
class CatalogueStatus:
    """One account's copy: what ``printrelay catalogue`` shows."""

    provider: str
    account: str
    fetched_at: str | None
    products: int
    print_products: int
    non_print_products: int
    #: What the last refresh did: ``refreshed``, ``kept`` (fresh enough), or the error.
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def providers_with_catalogue() -> list[str]:
    return sorted(name for name, adapter in ADAPTERS.items() if adapter.has_catalogue)


def accounts(runtime: Runtime, provider: str) -> list[str]:
    """The provider's accounts: ``default`` and every ``…__ACCOUNTS__<NAME>__…``."""
    return ["default", *sorted(runtime.settings.provider(provider).accounts)]


def status(runtime: Runtime, provider: str, account: str, note: str = "") -> CatalogueStatus:
    value = StoreMemo(runtime.store, provider, account).get(CATALOGUE_MEMO) or {}
    found = value.get("products")
    products: dict[str, Any] = found if isinstance(found, dict) else {}
    kinds = [p.get("print") for p in products.values() if isinstance(p, dict)]
    return CatalogueStatus(
        provider,
        account,
        str(value["fetched_at"]) if value.get("fetched_at") else None,
        len(products),
        kinds.count(True),
        kinds.count(False),
        note,
    )


def refresh(runtime: Runtime, provider: str, account: str = "default") -> CatalogueStatus:
    """Fetch the catalogue now and replace the copy; on failure the old copy stays."""
    adapter = ADAPTERS[provider]
    settings = runtime.settings.provider(provider)
    try:
        call = Call(
            kind="fetch_catalogue",
            payload={},
            account=account,
            settings=settings.for_account(account),
            client=runtime.client(provider, account),
            memo=StoreMemo(runtime.store, provider, account),
            job_id="catalogue",
        )
        _take_slot(runtime, provider, account)
        outcome = adapter.fetch_catalogue(call)
    except NotConfigured as exc:
        return status(runtime, provider, account, f"not configured: {exc}")
    except KeyError:
        return status(runtime, provider, account, f"no settings for account {account!r}")
    if outcome.kind is not OutcomeKind.DONE or outcome.result is None:
        note = f"refresh failed: {outcome.error_code or outcome.kind.value}: {outcome.error_message or ''}".rstrip(": ")
        log.warning("%s/%s catalogue: %s", provider, account, note)
        return status(runtime, provider, account, note)
    value = {"fetched_at": datetime.now(UTC).isoformat(), "products": outcome.result["products"]}
    StoreMemo(runtime.store, provider, account).put(CATALOGUE_MEMO, value)
    return status(runtime, provider, account, "refreshed")


def refresh_due(runtime: Runtime, *, older_than: float = REFRESH_AFTER) -> list[CatalogueStatus]:
    """Beat's tick: refresh every configured account whose copy is missing or older than
    ``older_than`` seconds. Accounts without credentials are left alone."""
    done = []
    now = datetime.now(UTC)
    for provider in providers_with_catalogue():
        for account in accounts(runtime, provider):
            current = status(runtime, provider, account)
            if current.fetched_at and (now - _parse(current.fetched_at)).total_seconds() < older_than:
                continue
            done.append(refresh(runtime, provider, account))
    return done


def _take_slot(runtime: Runtime, provider: str, account: str) -> None:
    """Wait for a ``default`` slot (a few seconds at most); Redis unreachable: go ahead."""
    configured = runtime.settings.rate_limits(provider)
    if "default" not in configured:
        return
    try:
        wait, _ = runtime.limiter.acquire(provider, account, {"default": configured["default"]}, reserve_max=10.0)
    except redis.RedisError:
        return
    if 0 < wait <= 10.0:
        time.sleep(wait)


def _parse(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
