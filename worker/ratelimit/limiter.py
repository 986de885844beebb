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

**A safety margin.** A slot granted at ``t`` reaches the provider a little after ``t``, and not
always the same little: two workers running at exactly the provider's rate draw a 429 now and
then from that jitter alone. So a bucket keeps ``margin`` of its quota unused (rate and burst),
and its burst one slot short of the provider's, so the provider always has a token for a request
that arrives early: ``PRINTRELAY_RATE_LIMIT_MARGIN``, 2 % by default, chosen by ``python -m
bench.quota``.

All times come from Redis's own clock (``TIME``), so workers on machines whose clocks differ
still agree.

>>> limiter.acquire("printeers", "default", {"default": (3000, 60.0), "uploads": (5000, 86400.0)})
0.0
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import redis

from worker.waiting.headers import parse_ratelimit, reset_from_headers

PREFIX = "printrelay:rl"
#: A policy a provider repeats on every answer is told to Redis again after this many seconds
#: (so a bucket that expired, or a Redis that forgot, learns it back within a minute).
POLICY_REFRESH = 60.0

# KEYS: one hash per bucket. ARGV: reserve_max_ms, reserved (0/1), margin (0..1), then count,
# window_ms per bucket. Returns the wait in ms as a string (Lua numbers would be truncated to
# integers on the way out).
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local reserve_max = tonumber(ARGV[1])
local reserved = ARGV[2] == '1'
local keep = 1 - tonumber(ARGV[3])
local wait = 0
local tats = {}
local windows = {}
for i, key in ipairs(KEYS) do
  local h = redis.call('HMGET', key, 'tat', 'frozen', 'q', 'w')
  local count = (tonumber(h[3]) or tonumber(ARGV[2 + 2 * i])) * keep
  local window = tonumber(h[4]) or tonumber(ARGV[3 + 2 * i])
  local frozen = tonumber(h[2]) or 0
  local tat = math.max(tonumber(h[1]) or now, now)
  local interval = window / count
  local tolerance = window
  -- with a margin, a bucket of two slots or more also keeps one slot of headroom at the
  -- provider: its burst is one short, so a request that arrives early finds a token there
  if keep < 1 and count >= 2 then tolerance = window - interval end
  if tolerance < interval then tolerance = interval end  -- a burst of at least one
  local new_tat = tat + interval
  local w = new_tat - tolerance - now
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
        #: (provider, account, bucket, quota, window) -> until when this process need not say it again
        self._told: dict[tuple[str, str, str, int, float], float] = {}

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
        margin: float = 0.0,
    ) -> tuple[float, bool]:
        """Take one slot from each of ``buckets`` (name -> (count, seconds)), all or none.

        Returns ``(wait, taken)``: ``(0, True)`` means go now; ``(w, True)`` means a slot ``w``
        seconds from now is yours (it was at most ``reserve_max`` away); ``(w, False)`` means
        nothing was taken and the earliest chance is in ``w`` seconds. ``margin``: the share of
        each bucket's quota (rate and burst alike) left unused, for the jitter between a slot
        and its request's arrival at the provider.
        """
        names = sorted(buckets)
        argv: list[Any] = [reserve_max * 1000, "1" if reserved else "0", margin]
        for name in names:
            count, seconds = buckets[name]
            argv += [count, seconds * 1000]
        wait_ms, taken = self._acquire(keys=[self.key(provider, account, n) for n in names], args=argv)
        return max(0.0, float(wait_ms) / 1000), taken in (b"1", "1", 1)

    def freeze(self, provider: str, account: str, bucket: str, seconds: float) -> None:
        self._learn(keys=[self.key(provider, account, bucket)], args=[seconds * 1000, "", "", "", "", 1, 1])

    def observe(self, provider: str, account: str, headers: Any, status: int, defaults: dict[str, tuple[int, float]]) -> None:
        """Learn from a provider's answer: policies change quota/window, remaining/reset tighten
        the bucket's state, and a 429 freezes the buckets it names (or ``default``).

        One round trip at most (a pipeline), and none for a policy this process told Redis
        within :data:`POLICY_REFRESH` seconds (providers repeat theirs on every answer), nor for
        a remaining count of half the quota or more: the bucket is tightened to the provider's
        count once it falls below half, long before it runs out."""
        policies = {
            i.name: i for i in parse_ratelimit(headers.get("ratelimit-policy")) + parse_ratelimit(headers.get("x-ratelimit-policy"))
        }
        items = parse_ratelimit(headers.get("ratelimit")) + parse_ratelimit(headers.get("x-ratelimit"))
        states = {i.name: i for i in items}
        calls: list[tuple[str, list[Any]]] = []
        now = time.monotonic()
        for name in sorted(set(policies) | set(states)):
            policy, state = policies.get(name), states.get(name)
            quota = policy.quota if policy is not None and policy.quota and policy.window else None
            window = policy.window if policy is not None and quota else None
            count, seconds = defaults.get(name, (quota, window) if quota and window else (0, 0.0))
            tighten = (
                state is not None
                and state.remaining is not None
                and state.reset is not None
                and name in defaults
                and (state.remaining * 2 < (quota or count) or status == 429)  # half or more left: ours is as tight
            )
            told = (provider, account, name, quota or 0, window or 0.0)
            if quota and not tighten and self._told.get(told, 0.0) > now:
                quota = window = None  # told within POLICY_REFRESH: nothing to say
            if not (quota or tighten) or not count:
                continue
            if quota:
                self._told[told] = now + POLICY_REFRESH
            # the policy and the state of one answer go together, so the state is read against the
            # quota it belongs to (never against an older one still in Redis)
            calls.append(
                (
                    self.key(provider, account, name),
                    [
                        "",
                        quota or "",
                        window * 1000 if window else "",
                        state.remaining if tighten and state else "",
                        state.reset * 1000 if tighten and state and state.reset is not None else "",
                        count,
                        seconds * 1000,
                    ],
                )
            )
        if status == 429:
            from worker.waiting.headers import parse_retry_after

            wait = parse_retry_after(headers.get("retry-after")) or reset_from_headers(headers) or 1.0
            exhausted = [i.name for i in items if i.remaining == 0] or ["default"]
            calls += [(self.key(provider, account, name), [wait * 1000, "", "", "", "", 1, 1]) for name in exhausted]
            self._told.clear()  # after a 429, tell Redis the policy again with the next answer
        if not calls:
            return
        pipe = self.client.pipeline(transaction=False)
        for key, args in calls:
            self._learn(keys=[key], args=args, client=pipe)
        pipe.execute()

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
