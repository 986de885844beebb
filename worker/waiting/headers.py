"""Reading a provider's "come back later": ``Retry-After`` and the rate-limit headers.

>>> parse_retry_after("120")
120.0
>>> parse_ratelimit('"default";r=0;t=7, "uploads";r=12;t=3600')[0].reset
7.0

``Retry-After`` is either delta-seconds or an HTTP-date (RFC 9110 §10.2.3). The rate-limit
headers follow the IETF draft's structured-field syntax that Printeers uses, in both spellings
(``X-RateLimit`` and, from a later API version on, ``RateLimit``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait, or ``None`` when the header is absent or unreadable.

    An HTTP-date is rounded *up* to the whole second after it (dates have one-second
    resolution), so the wait is never shorter than asked. A date in the past means "now": 0.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 850 / asctime forms carry no zone: they are GMT
        when = when.replace(tzinfo=UTC)
    delta = (when - (now or datetime.now(UTC))).total_seconds()
    return float(max(0, math.ceil(delta)))


@dataclass(frozen=True)
class RateLimitItem:
    """One bucket named in a rate-limit header: quota/window (policy) or remaining/reset (state)."""

    name: str
    quota: int | None = None
    window: float | None = None
    remaining: int | None = None
    reset: float | None = None


_ITEM = re.compile(r'\s*(?:"(?P<quoted>[^"]*)"|(?P<token>[A-Za-z0-9_.*-]+))(?P<params>(?:\s*;\s*[a-z0-9_-]+(?:=[^;,]*)?)*)\s*')


def parse_ratelimit(value: str | None) -> list[RateLimitItem]:
    """Parse ``"default";q=3000;w=60`` or ``"default";r=2999;t=1`` items, comma-separated.

    Unreadable items are skipped: a header we cannot read must not fail the job.
    """
    if not value:
        return []
    items: list[RateLimitItem] = []
    for raw in _split_items(value):
        match = _ITEM.fullmatch(raw)
        if not match:
            continue
        name = match.group("quoted") if match.group("quoted") is not None else match.group("token")
        params: dict[str, str] = {}
        for param in filter(None, (p.strip() for p in (match.group("params") or "").split(";"))):
            key, _, val = param.partition("=")
            params[key.strip()] = val.strip().strip('"')
        items.append(
            RateLimitItem(
                name=name or "default",
                quota=_int(params.get("q")),
                window=_float(params.get("w")),
                remaining=_int(params.get("r")),
                reset=_float(params.get("t")),
            )
        )
    return items


def reset_from_headers(headers: Mapping[str, str]) -> float | None:
    """Seconds until an exhausted bucket resets, for a 429 that carries no ``Retry-After``.

    The longest reset among buckets at zero (any of them blocks the call); failing that, the
    longest reset named at all.
    """
    items = parse_ratelimit(headers.get("ratelimit")) + parse_ratelimit(headers.get("x-ratelimit"))
    empty = [i.reset for i in items if i.remaining == 0 and i.reset is not None]
    if empty:
        return max(empty)
    resets = [i.reset for i in items if i.reset is not None]
    return max(resets) if resets else None


def _split_items(value: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in value:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _int(text: str | None) -> int | None:
    number = _float(text)
    return int(number) if number is not None else None
