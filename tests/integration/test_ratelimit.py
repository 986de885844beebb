"""The shared buckets against a real Redis: concurrency, refill, all-or-none, freezes, spacing."""

from __future__ import annotations

import itertools
import multiprocessing
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from worker.ratelimit import Limiter


@pytest.fixture
def limiter(redis_url: str) -> Iterator[Limiter]:
    yield Limiter(redis.Redis.from_url(redis_url))


@pytest.fixture
def account() -> str:
    return f"acct-{uuid.uuid4().hex[:8]}"


def test_a_burst_takes_exactly_the_quota(limiter: Limiter, account: str) -> None:
    results = [limiter.acquire("p", account, {"default": (10, 60.0)})[1] for _ in range(15)]
    assert results.count(True) == 10


def test_threads_together_never_exceed_the_quota(limiter: Limiter, account: str) -> None:
    taken: list[bool] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(20):
            got = limiter.acquire("p", account, {"default": (50, 60.0)})[1]
            with lock:
                taken.append(got)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert taken.count(True) == 50


def _take_many(url: str, account: str, n: int, out: multiprocessing.Queue[int]) -> None:
    limiter = Limiter(redis.Redis.from_url(url))
    out.put(sum(limiter.acquire("p", account, {"default": (30, 60.0)})[1] for _ in range(n)))


def test_two_processes_share_one_bucket(redis_url: str, account: str) -> None:
    out: multiprocessing.Queue[int] = multiprocessing.Queue()
    processes = [multiprocessing.Process(target=_take_many, args=(redis_url, account, 40, out)) for _ in range(2)]
    for p in processes:
        p.start()
    for p in processes:
        p.join(30)
    assert out.get() + out.get() == 30


def test_refill_is_continuous_and_the_wait_exact(limiter: Limiter, account: str) -> None:
    bucket = {"default": (5, 1.0)}  # one token every 0.2 s
    for _ in range(5):
        assert limiter.acquire("p", account, bucket) == (0.0, True)
    wait, taken = limiter.acquire("p", account, bucket)
    assert not taken and 0.15 < wait <= 0.2
    time.sleep(wait)
    assert limiter.acquire("p", account, bucket)[1]


def test_all_or_none_across_buckets(limiter: Limiter, account: str) -> None:
    both = {"default": (100, 60.0), "uploads": (2, 3600.0)}
    assert limiter.acquire("p", account, both)[1] and limiter.acquire("p", account, both)[1]
    wait, taken = limiter.acquire("p", account, both)
    assert not taken and wait > 1000  # the uploads bucket is empty for ~30 minutes
    # nothing was taken from `default` by the refused call: 98 are left
    assert sum(limiter.acquire("p", account, {"default": (100, 60.0)})[1] for _ in range(100)) == 98


def test_reservations_space_waiting_callers_apart(limiter: Limiter, account: str) -> None:
    bucket = {"default": (2, 1.0)}  # interval 0.5 s
    limiter.acquire("p", account, bucket)
    limiter.acquire("p", account, bucket)
    waits = [limiter.acquire("p", account, bucket, reserve_max=10) for _ in range(4)]
    assert all(taken for _, taken in waits)
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(waits)]
    assert all(0.45 < g < 0.55 for g in gaps), waits


def test_a_429_freezes_the_bucket_for_everyone(limiter: Limiter, account: str, redis_url: str) -> None:
    other = Limiter(redis.Redis.from_url(redis_url))
    limiter.observe("p", account, {"retry-after": "2"}, 429, {"default": (100, 60.0)})
    wait, taken = other.acquire("p", account, {"default": (100, 60.0)})
    assert not taken and 1.5 < wait <= 2.0
    # a reserved slot still honours the freeze
    assert not other.acquire("p", account, {"default": (100, 60.0)}, reserved=True)[1]


def test_the_providers_headers_teach_the_bucket(limiter: Limiter, account: str) -> None:
    defaults = {"default": (3000, 60.0)}
    limiter.observe("p", account, {"x-ratelimit-policy": '"default";q=4;w=60', "x-ratelimit": '"default";r=1;t=45'}, 200, defaults)
    [bucket] = limiter.buckets("p", account, defaults)
    assert (bucket.count, bucket.seconds, bucket.learned) == (4, 60.0, True)
    assert 0.9 < bucket.available <= 1.01  # the provider said one call is left
    assert limiter.acquire("p", account, defaults)[1]
    assert not limiter.acquire("p", account, defaults)[1]


def test_a_margin_leaves_part_of_the_quota_and_one_slot_of_headroom(redis_url: str) -> None:
    """10 a minute with a 2 % margin: 9.8 a minute, and a burst one slot short of that (8): the
    provider always has a token for a request that arrives a little early."""
    client = redis.Redis.from_url(redis_url)
    limiter = Limiter(client)
    account = f"margin-{uuid.uuid4().hex[:6]}"
    taken = [limiter.acquire("p", account, {"default": (10, 60.0)}, margin=0.02) for _ in range(10)]
    assert [t[1] for t in taken] == [True] * 8 + [False] * 2
    assert 0 < taken[8][0] <= 60 / 9.8  # the next slot comes within one (slightly longer) interval
    one = {"default": (1, 1.0)}
    assert limiter.acquire("p", account + "-one", one, margin=0.02)[1]  # a bucket of one keeps its one slot
