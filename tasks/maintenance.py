"""Beat's periodic tasks (see :mod:`worker.maintenance` for what each does)."""

from __future__ import annotations

from worker import maintenance
from worker.app import app
from worker.runtime import get_runtime


@app.task(name="printrelay.maintenance.dispatch_due", ignore_result=True)
def dispatch_due() -> int:
    """Every second: a Redis that forgot its queue is noticed here (within one tick), then due waits."""
    runtime = get_runtime()
    return maintenance.redis_forgot(runtime) + maintenance.dispatch_due(runtime)


@app.task(name="printrelay.maintenance.recover_stale", ignore_result=True)
def recover_stale() -> int:
    return maintenance.recover_stale(get_runtime())


@app.task(name="printrelay.maintenance.requeue_lost", ignore_result=True)
def requeue_lost() -> int:
    return maintenance.requeue_lost(get_runtime())


@app.task(name="printrelay.maintenance.release_stuck", ignore_result=True)
def release_stuck() -> int:
    return maintenance.release_stuck(get_runtime())


@app.task(name="printrelay.maintenance.notify_pending", ignore_result=True)
def notify_pending() -> int:
    return maintenance.notify_pending(get_runtime())


@app.task(name="printrelay.maintenance.refresh_catalogues", ignore_result=True)
def refresh_catalogues() -> int:
    """Refetch the catalogue copies older than a day (see :mod:`worker.catalogue`)."""
    from worker import catalogue

    return len(catalogue.refresh_due(get_runtime()))
