"""Beat's periodic tasks (see :mod:`worker.maintenance` for what each does).

Each tick waits a little for a database that cannot be reached (a restart, a failover) and, if it
stays away, says so in one line instead of a traceback: the next tick tries again anyway.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from worker import maintenance
from worker.app import app
from worker.errors import DatabaseUnavailable
from worker.runtime import get_runtime
from worker.store.reachability import retrying, unreachable

log = logging.getLogger("printrelay.maintenance")
#: How long one tick waits for an unreachable database before leaving it to the next tick.
TICK_PATIENCE = 5.0


def tick(work: Callable[[], int]) -> Callable[[], int]:
    @functools.wraps(work)
    def run() -> int:
        try:
            for attempt in retrying(timeout=TICK_PATIENCE):
                with attempt:
                    return work()
        except Exception as exc:
            if not (unreachable(exc) or isinstance(exc, DatabaseUnavailable)):
                raise
            log.warning("%s: the job store is unreachable (%s); the next tick tries again", work.__name__, type(exc).__name__)
        return 0

    return run


@app.task(name="printrelay.maintenance.dispatch_due", ignore_result=True)
@tick
def dispatch_due() -> int:
    """Every second: a Redis that forgot its queue is noticed here (within one tick), jobs whose
    publish failed go out, then due waits."""
    runtime = get_runtime()
    return maintenance.redis_forgot(runtime) + maintenance.publish_unpublished(runtime) + maintenance.dispatch_due(runtime)


@app.task(name="printrelay.maintenance.recover_stale", ignore_result=True)
@tick
def recover_stale() -> int:
    return maintenance.recover_stale(get_runtime())


@app.task(name="printrelay.maintenance.requeue_lost", ignore_result=True)
@tick
def requeue_lost() -> int:
    return maintenance.requeue_lost(get_runtime())


@app.task(name="printrelay.maintenance.release_stuck", ignore_result=True)
@tick
def release_stuck() -> int:
    return maintenance.release_stuck(get_runtime())


@app.task(name="printrelay.maintenance.notify_pending", ignore_result=True)
@tick
def notify_pending() -> int:
    return maintenance.notify_pending(get_runtime())


@app.task(name="printrelay.maintenance.retention", ignore_result=True)
@tick
def retention() -> int:
    """Hourly: scrub and purge finished jobs by age (PRINTRELAY_RETENTION__…, worker.retention)."""
    return maintenance.retention(get_runtime())


@app.task(name="printrelay.maintenance.refresh_catalogues", ignore_result=True)
def refresh_catalogues() -> int:
    """Refetch the catalogue copies older than a day (see :mod:`worker.catalogue`)."""
    from worker import catalogue

    return len(catalogue.refresh_due(get_runtime()))
