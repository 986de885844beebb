"""An attempt's outcome, kept in Redis while the database cannot take it.

A call has been made and answered, and the database is unreachable (a restart, a failover): the
runner keeps trying to record the attempt, but a worker may die meanwhile. Without the journal,
beat's recovery would then find only an expired lease and record a ``crashed`` attempt — for an
order submit, a call that may have happened, i.e. reconcile or review — although the answer was
known. With it, the recovery records the answer itself.

Written only when a first try to record has failed, so the hot path pays nothing for it. One key
per attempt, ``printrelay:journal:<job id>:<lease token>``: the lease token names the attempt, so
a late worker and the recovery can never confuse two attempts of one job. Entries hold the
outcome as recorded (secrets already redacted: what an attempts row holds) and expire after
:data:`KEEP_SECONDS`.

    >>> journal.keep(job.id, token, Entry(outcome, started, finished))   # doctest: +SKIP
    >>> journal.take(job.id, token).outcome.kind                         # doctest: +SKIP
    <OutcomeKind.DONE: 'done'>
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

import redis

from worker.outcome import Outcome

log = logging.getLogger("printrelay.journal")
PREFIX = "printrelay:journal"
#: A week: longer than any database outage worth surviving, short enough not to pile up.
KEEP_SECONDS = 7 * 86400


@dataclass(frozen=True)
class Entry:
    outcome: Outcome
    started: datetime
    finished: datetime
    #: the call was its circuit's failed probe: the job waits this long for the next one
    probe_wait: float | None = None

    def dumps(self) -> str:
        return json.dumps(
            {
                "outcome": self.outcome.to_dict(),
                "started": self.started.isoformat(),
                "finished": self.finished.isoformat(),
                "probe_wait": self.probe_wait,
            }
        )

    @classmethod
    def loads(cls, raw: str | bytes) -> Entry:
        data = json.loads(raw)
        return cls(
            Outcome.from_dict(data["outcome"]),
            datetime.fromisoformat(data["started"]),
            datetime.fromisoformat(data["finished"]),
            data.get("probe_wait"),
        )


class Journal:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    @staticmethod
    def key(job_id: str, token: str) -> str:
        return f"{PREFIX}:{job_id}:{token}"

    def keep(self, job_id: str, token: str, entry: Entry) -> bool:
        """Journal the attempt; ``False`` if Redis cannot be reached either (the caller then
        holds on to the outcome itself until the database takes it)."""
        try:
            self.client.set(self.key(job_id, token), entry.dumps(), ex=KEEP_SECONDS)
        except redis.RedisError:
            log.warning("job %s: the outcome could not be journalled either (Redis unreachable)", job_id)
            return False
        return True

    def take(self, job_id: str, token: str) -> Entry | None:
        """The journalled outcome of the attempt under ``token``, if there is one."""
        try:
            raw = self.client.get(self.key(job_id, token))
        except redis.RedisError:
            log.warning("job %s: the outcome journal could not be read (Redis unreachable)", job_id)
            return None
        if raw is None:
            return None
        try:
            return Entry.loads(raw)  # type: ignore[arg-type]
        except (ValueError, KeyError, TypeError):
            log.exception("job %s: an unreadable journal entry was ignored", job_id)
            return None

    def drop(self, job_id: str, token: str) -> None:
        """The database has the attempt now (best-effort: an entry left behind expires)."""
        try:
            self.client.delete(self.key(job_id, token))
        except redis.RedisError:
            log.debug("journal entry of job %s not dropped", job_id, exc_info=True)
