"""Each provider account at a glance (``printrelay providers``): its circuit, paused or not, its
buckets, the jobs it holds. What the console's providers page and the metrics will show too."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import redis
from sqlalchemy import func, select

from worker.adapters.registry import print_providers
from worker.holds import HELD
from worker.runtime import Runtime
from worker.states import JobState
from worker.store import Job


@dataclass(frozen=True)
class ProviderStatus:
    provider: str
    account: str
    #: the pause in force: ``{"until", "reason", "by", "at"}``, or ``None``
    paused: dict[str, Any] | None
    #: jobs waiting because the account is paused
    held: int
    #: jobs waiting for anything else (a retry, a poll, a rate-limit slot)
    waiting: int
    #: bucket name -> ``{"quota", "seconds", "available", "frozen_for"}``; ``None`` if Redis did not answer
    buckets: dict[str, dict[str, float]] | None = field(default=None)
    #: ``{"state": closed|open|unknown, "next_probe_in", "backoff", "recent_failures"}``
    circuit: dict[str, Any] | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def statuses(runtime: Runtime) -> list[ProviderStatus]:
    pauses = runtime.holds.all()
    held_query = (
        select(Job.provider, Job.account, Job.waiting_for, func.count())
        .where(Job.state == JobState.WAITING.value)
        .group_by(Job.provider, Job.account, Job.waiting_for)
    )
    with runtime.store.transaction() as session:
        counts = session.execute(held_query).all()
    held: dict[tuple[str, str], int] = {}
    waiting: dict[tuple[str, str], int] = {}
    for provider, account, waiting_for, count in counts:
        target = held if waiting_for == HELD else waiting
        target[(provider, account)] = target.get((provider, account), 0) + int(count)
    found = []
    for provider in print_providers():
        accounts = {"default", *runtime.settings.provider(provider).accounts, *(a for p, a in pauses if p == provider)}
        accounts |= {a for p, a in (*held, *waiting) if p == provider}
        for account in sorted(accounts, key=lambda a: (a != "default", a)):
            pause = pauses.get((provider, account))
            found.append(
                ProviderStatus(
                    provider,
                    account,
                    pause.to_dict() if pause else None,
                    held.get((provider, account), 0),
                    waiting.get((provider, account), 0),
                    _buckets(runtime, provider, account),
                    {k: v for k, v in runtime.circuit.status(provider, account).to_dict().items() if k not in ("provider", "account")},
                )
            )
    return found


def _buckets(runtime: Runtime, provider: str, account: str) -> dict[str, dict[str, float]] | None:
    try:
        buckets = runtime.limiter.buckets(provider, account, runtime.settings.rate_limits(provider))
    except redis.RedisError:
        return None
    return {
        b.name: {"quota": b.count, "seconds": b.seconds, "available": round(b.available, 1), "frozen_for": round(b.frozen_for, 1)}
        for b in buckets
    }
