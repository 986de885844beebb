"""Keeping the leases of running attempts alive while their worker lives.

A claim hands the worker a lease; beat's ``recover_stale`` takes over a job whose lease ran out
(its worker died: SIGKILL, OOM, a lost machine). The lease is short (``lease_seconds``, 20 s by
default) so a dead worker's job is taken over within seconds, and a living worker renews the
leases of every attempt it runs every quarter lease — so a long call (a five-minute ZIP
download) is never taken over while its worker lives.

One thread per worker process, started with the first claim; one UPDATE per beat for all the
process's running attempts. A beat that fails (the database blinked) is logged and the next one
tries again soon (every :data:`RETRY_SECONDS`): a lease survives three missed beats, and after
a database outage the leases of the calls still running are renewed within a moment of its
return, before beat's recovery could take them for lost.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import update

from worker.states import JobState
from worker.store import Job, Store
from worker.store.types import utcnow

log = logging.getLogger("printrelay.heartbeat")
#: After a failed beat, the next comes this soon.
RETRY_SECONDS = 0.25


class Heartbeat:
    def __init__(self, store: Store, lease_seconds: float, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.store, self.lease_seconds, self.clock = store, lease_seconds, clock
        self.interval = lease_seconds / 4
        self._held: dict[str, str] = {}  # lease token -> job id
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, job_id: str, token: str) -> None:
        """An attempt of ``job_id`` runs under ``token``: keep its lease alive."""
        with self._lock:
            self._held[token] = job_id
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="printrelay-heartbeat", daemon=True)
                self._thread.start()

    def release(self, token: str) -> None:
        with self._lock:
            self._held.pop(token, None)

    def beat(self) -> int:
        """Renew every held lease now; how many were renewed (a token taken over renews nothing)."""
        with self._lock:
            tokens = list(self._held)
        if not tokens:
            return 0
        with self.store.transaction() as session:
            result = session.execute(
                update(Job)
                .where(Job.lease_token.in_(tokens), Job.state == JobState.RUNNING.value)
                .values(lease_expires_at=self.clock() + timedelta(seconds=self.lease_seconds))
                .execution_options(synchronize_session=False)
            )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        wait = self.interval
        while not self._stop.wait(wait):
            try:
                self.beat()
                wait = self.interval
            except Exception as exc:
                if wait == self.interval:  # once per outage, not every quarter second
                    log.warning(
                        "renewing %d leases failed (%s); trying again every %g s", len(self._held), type(exc).__name__, RETRY_SECONDS
                    )
                wait = min(self.interval, RETRY_SECONDS)
