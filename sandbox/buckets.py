"""The sandbox's own rate limiter: continuously refilled token buckets, as Printeers describes.

Independent of printrelay's limiter on purpose: it is the referee that counts the 429s.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field


@dataclass
class Bucket:
    quota: int
    window: float
    tokens: float = -1.0
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = float(self.quota)

    @property
    def rate(self) -> float:
        return self.quota / self.window

    def refill(self, now: float) -> None:
        self.tokens = min(float(self.quota), self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait(self) -> float:
        """Seconds until one token is free (0 if one is)."""
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def reset(self) -> float:
        """Seconds until the bucket is full again (the draft's ``t``)."""
        return (self.quota - self.tokens) / self.rate


class Buckets:
    """Named buckets of one organisation. ``take`` is all-or-none across the named buckets."""

    def __init__(self, limits: dict[str, tuple[int, float]]) -> None:
        self.buckets = {name: Bucket(q, w) for name, (q, w) in limits.items()}

    def set_limit(self, name: str, quota: int, window: float) -> None:
        self.buckets[name] = Bucket(quota, window)

    def take(self, names: tuple[str, ...]) -> float:
        """Take one token from each bucket; 0.0 on success, else the seconds to wait (nothing taken)."""
        now = time.monotonic()
        chosen = [self.buckets[n] for n in names if n in self.buckets]
        for bucket in chosen:
            bucket.refill(now)
        wait = max((b.wait() for b in chosen), default=0.0)
        if wait > 0:
            return wait
        for bucket in chosen:
            bucket.tokens -= 1
        return 0.0

    def headers(self, names: tuple[str, ...]) -> dict[str, str]:
        chosen = [(n, self.buckets[n]) for n in names if n in self.buckets]
        policy = ", ".join(f'"{n}";q={b.quota};w={b.window:g}' for n, b in chosen)
        state = ", ".join(f'"{n}";r={max(0, math.floor(b.tokens))};t={math.ceil(b.reset())}' for n, b in chosen)
        return {"X-RateLimit-Policy": policy, "X-RateLimit": state}
