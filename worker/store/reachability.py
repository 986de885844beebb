"""A job store that cannot be reached for a while: a restart, a failover, a network blip.

The worker's own database work — claiming a job, recording an attempt, renewing leases, beat's
ticks — waits for the database with :func:`retrying` instead of failing: a blip of seconds must
not leave jobs ``running`` until their lease runs out, nor lose the answer of a call already made.
Only errors that mean "unreachable" are retried (:func:`unreachable`); a constraint violation, a
missing table or a bug fails at once.

    >>> for attempt in retrying(timeout=30):                   # doctest: +SKIP
    ...     with attempt:
    ...         with store.transaction() as session:
    ...             ...

The backoff is stamina's (exponential with jitter, from 0.1 s up to :data:`WAIT_MAX`), so a
worker finds the database back within about two seconds of its return and a fleet of threads
does not reconnect in lockstep.

Warning: a retried block must be safe to run twice. A COMMIT whose answer was lost may have
happened; each caller says how it checks (:meth:`worker.runner.Runner.claim` looks for its own
lease token, :meth:`worker.runner.Runner.record` for its own attempt row).
"""

from __future__ import annotations

from typing import Any

import stamina
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from stamina.instrumentation import PrometheusOnRetryHook, set_on_retry_hooks

# stamina logs every retry as a warning of its own; in an outage that is one line per thread
# every two seconds. Callers say once what they wait for; stamina keeps its Prometheus counter
# (stamina_retries_total).
set_on_retry_hooks([PrometheusOnRetryHook])

#: The longest pause between two tries: the database is found back within about this long.
WAIT_MAX = 2.0
#: OperationalErrors that are about the schema or the statement, not about reaching the database.
_NOT_REACHABILITY = ("no such table", "no such column", "syntax error", "has no column")


def unreachable(exc: BaseException) -> bool:
    """``True`` if ``exc`` says the database could not be reached (or dropped the connection),
    so the same work may succeed once it is back."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, InterfaceError):
        return True
    if isinstance(exc, OperationalError):
        text = str(exc.orig).lower() if exc.orig is not None else ""
        return not any(marker in text for marker in _NOT_REACHABILITY)
    return False


def retrying(*, timeout: float | None) -> Any:
    """stamina's retry context for an unreachable database, for up to ``timeout`` seconds
    (``None``: until it answers). The last error is raised when time runs out."""
    return stamina.retry_context(on=unreachable, attempts=None, timeout=timeout, wait_initial=0.1, wait_max=WAIT_MAX, wait_jitter=0.3)
