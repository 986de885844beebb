"""GCRA buckets in Redis: one atomic script takes a slot from every bucket a call counts
against, all or none.

Why GCRA (the generic cell rate algorithm) rather than a token bucket: it is a token bucket
with continuous refill kept as one number per bucket, the *theoretical arrival time* (TAT), so
there is no refill to run and the answer to "when is the next token free?" is exact arithmetic.
A bucket of ``count`` per ``seconds`` has an emission interval ``T = seconds / count`` and lets
a burst of ``count`` through.

**Reservations, against the thundering herd.** A call that would have to wait up to
``reserve_max`` seconds takes its slot anyway, in the future, and is told when that slot is.
Ten jobs refused at once therefore come back one interval apart, not together. A job that
comes back for a reserved slot does not take another (``reserved=True``) but still honours a
freeze.

**Freezes.** A 429 freezes a bucket for every worker until its Retry-After (or reset) has
passed.

All times come from Redis's own clock (``TIME``), so workers on machines whose clocks differ
still agree.

>>> limiter.acquire("printeers", "default", {"default": (3000, 60.0), "uploads": (5000, 86400.0)})
0.0
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

from worker.waiting.headers import parse_ratelimit, reset_from_headers

PREFIX = "printrelay:rl"

# KEYS: one hash per bucket. ARGV: reserve_max_ms, reserved (0/1), then count, window_ms per bucket.
# Returns the wait in ms as a string (Lua numbers would be truncated to integers on the way out).
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local reserve_max = tonumber(ARGV[1])
local reserved = ARGV[2] == '1'
local wait = 0
local tats = {}
local windows = {}
for i, key in ipairs(KEYS) do
  local h = redis.call('HMGET', key, 'tat', 'frozen', 'q', 'w')
  local count = tonumber(h[3]) or tonumber(ARGV[1 + 2 * i])
  local window = tonumber(h[4]) or tonumber(ARGV[2 + 2 * i])
  local frozen = tonumber(h[2]) or 0
  local tat = math.max(tonumber(h[1]) or now, now)
  local new_tat = tat + window / count
  local w = new_tat - window - now
  if reserved then w = 0 end
  if frozen - now > w then w = frozen - now end
  if w > wait then wait = w end
  tats[i] = new_tat
  windows[i] = window
end
if wait > 0 and (reserved or wait > reserve_max) then
  return {tostring(wait), '0'}
end
if not reserved then
  for i, key in ipairs(KEYS) do
    redis.call('HSET', key, 'tat', tostring(tats[i]))
    redis.call('PEXPIRE', key, math.ceil(tats[i] - now + windows[i]))
  end
end
return {tostring(wait), '1'}
"""

# KEYS[1]: the bucket. ARGV: frozen for ms, quota (or ''), window_ms (or ''), remaining (or ''), reset_ms (or '')
_LEARN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local key = KEYS[1]
if ARGV[1] ~= '' then
  local until_ = now + tonumber(ARGV[1])
  local frozen = tonumber(redis.call('HGET', key, 'frozen')) or 0
  if until_ > frozen then redis.call('HSET', key, 'frozen', tostring(until_)) end
end
if ARGV[2] ~= '' and ARGV[3] ~= '' then
  redis.call('HSET', key, 'q', ARGV[2], 'w', ARGV[3])
end
if ARGV[4] ~= '' and ARGV[5] ~= '' then
  -- the provider says: `remaining` calls until the window resets in `reset` ms. Never trust it
  -- to loosen our own count, only to tighten it.
  local h = redis.call('HMGET', key, 'q', 'w')
  local count = tonumber(h[1]) or tonumber(ARGV[6])
  local window = tonumber(h[2]) or tonumber(ARGV[7])
  local interval = window / count
  local used = count - tonumber(ARGV[4])
  local tat = now + used * interval
  local current = tonumber(redis.call('HGET', key, 'tat')) or now
  if tat > current then redis.call('HSET', key, 'tat', tostring(tat)) end
end
redis.call('PEXPIRE', key, 2 * 86400 * 1000)
return 1
"""


@dataclass(frozen=True)
class Bucket:
    """A bucket's configuration and what Redis knows of it now (``printrelay limits``)."""

    provider: str
    account: str
    name: str
    count: int
    seconds: float
    #: tokens free now (can be fractional: refill is continuous)
    available: float
    frozen_for: float
    learned: bool


class Limiter:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._acquire = client.register_script(_ACQUIRE)
        self._learn = client.register_script(_LEARN)

    @staticmethod
    def key(provider: str, account: str, bucket: str) -> str:
        return f"{PREFIX}:{provider}:{account}:{bucket}"

    def acquire(
        self,
        provider: str,
        account: str,
        buckets: dict[str, tuple[int, float]],
        *,
        reserve_max: float = 0.0,
        reserved: bool = False,
    ) -> tuple[float, bool]:
        """Take one slot from each of ``buckets`` (name -> (count, seconds)), all or none.

        Returns ``(wait, taken)``: ``(0, True)`` means go now; ``(w, True)`` means a slot ``w``
        seconds from now is yours (it was at most ``reserve_max`` away); ``(w, False)`` means
        nothing was taken and the earliest chance is in ``w`` seconds.
        """
        names = sorted(buckets)
        argv: list[Any] = [reserve_max * 1000, "1" if reserved else "0"]
        for name in names:
            count, seconds = buckets[name]
            argv += [count, seconds * 1000]
        wait_ms, taken = self._acquire(keys=[self.key(provider, account, n) for n in names], args=argv)
        return max(0.0, float(wait_ms) / 1000), taken in (b"1", "1", 1)

    def freeze(self, provider: str, account: str, bucket: str, seconds: float) -> None:
        self._learn(keys=[self.key(provider, account, bucket)], args=[seconds * 1000, "", "", "", "", 1, 1])

    def observe(self, provider: str, account: str, headers: Any, status: int, defaults: dict[str, tuple[int, float]]) -> None:
        """Learn from a provider's answer: policies change quota/window, remaining/reset tighten
        the bucket's state, and a 429 freezes the buckets it names (or ``default``)."""
        policies = parse_ratelimit(headers.get("ratelimit-policy")) + parse_ratelimit(headers.get("x-ratelimit-policy"))
        states = parse_ratelimit(headers.get("ratelimit")) + parse_ratelimit(headers.get("x-ratelimit"))
        touched: set[str] = set()
        for item in policies:
            if item.quota and item.window:
                count, seconds = defaults.get(item.name, (item.quota, item.window))
                self._learn(
                    keys=[self.key(provider, account, item.name)], args=["", item.quota, item.window * 1000, "", "", count, seconds * 1000]
                )
        for item in states:
            if item.remaining is not None and item.reset is not None and item.name in defaults:
                count, seconds = defaults[item.name]
                self._learn(
                    keys=[self.key(provider, account, item.name)],
                    args=["", "", "", item.remaining, item.reset * 1000, count, seconds * 1000],
                )
                touched.add(item.name)
        if status == 429:
            from worker.waiting.headers import parse_retry_after

            wait = parse_retry_after(headers.get("retry-after")) or reset_from_headers(headers) or 1.0
            exhausted = [i.name for i in states if i.remaining == 0] or ["default"]
            for name in exhausted:
                self.freeze(provider, account, name, wait)

    def buckets(self, provider: str, account: str, configured: dict[str, tuple[int, float]]) -> list[Bucket]:
        now_s, now_us = self.client.time()  # type: ignore[misc]
        now = now_s * 1000 + now_us / 1000
        found = []
        for name, (count, seconds) in sorted(configured.items()):
            raw = self.client.hgetall(self.key(provider, account, name))
            data = {k.decode(): float(v) for k, v in raw.items()}  # type: ignore[union-attr]
            count_ = int(data.get("q", count))
            window = data.get("w", seconds * 1000)
            tat = max(data.get("tat", now), now)
            available = max(0.0, (window - (tat - now)) / (window / count_))
            found.append(
                Bucket(
                    provider,
                    account,
                    name,
                    count_,
                    window / 1000,
                    min(available, count_),
                    max(0.0, (data.get("frozen", 0) - now) / 1000),
                    "q" in data,
                )
            )
        return found
