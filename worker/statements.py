"""The statements a worker runs for every job, built once.

A claim and a record are the two writes of every attempt. Built per call, SQLAlchemy's statement
construction and ORM bookkeeping cost more than the database does (measured: 633 µs for the ORM
claim on SQLite, 206 µs for this one); built here once with bind parameters and run on a Core
connection (:meth:`worker.store.Store.connection`), they cost what the database costs. Their
shape stays :mod:`worker.transitions`' (:func:`~worker.transitions.prepared`).

- :data:`CLAIM`: queued, or waiting and due → running, with a fresh lease; the job's row back.
- :data:`RECORD` / :data:`RECORD_RESULT`: running (under the caller's lease) → the decision's
  state (``canceled`` instead of ``waiting`` if an operator asked meanwhile), with what follows
  needs to know: whether jobs wait for it, whether its producer wants to hear. On PostgreSQL
  :data:`RECORD_WITH_ATTEMPT` also writes the attempts row, in the same statement.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, Select, String, Update, and_, bindparam, case, insert, literal, literal_column, or_, select
from sqlalchemy.dialects import postgresql

from worker import transitions
from worker.store import Attempt, Job, JobReference

JOB_COLUMNS = tuple(Job.__table__.c)

CLAIM = transitions.prepared(
    "claim",
    Job.id == bindparam("job_id"),
    or_(Job.next_attempt_at.is_(None), Job.next_attempt_at <= bindparam("now")),
    values={
        "lease_token": bindparam("token"),
        "lease_expires_at": bindparam("lease_until"),
        "attempt_count": Job.attempt_count + 1,
        "updated_at": bindparam("now"),
    },
    returning=JOB_COLUMNS,
)
#: What a claim that took nothing finds: why not (gone, not due, someone else's).
CURRENT = select(Job.state, Job.kind, Job.provider, Job.next_attempt_at, Job.lease_token, *JOB_COLUMNS).where(Job.id == bindparam("job_id"))

#: The job's columns an attempt's record sets (``job_values`` of :mod:`worker.records`).
RECORDED = ("waiting_for", "next_attempt_at", "reconcile", "updated_at", "error_code", "error_message", "budget_used")
#: The attempt's decision was to wait, but an operator asked to cancel the job while it ran.
_CANCELED_MEANWHILE = and_(bindparam("to", type_=String) == literal_column("'waiting'"), Job.cancel_requested.is_(True))


def _unless_canceled(value: Any) -> Any:
    return case((_CANCELED_MEANWHILE, None), else_=value)


_RECORD_VALUES: dict[str, Any] = {
    "lease_token": None,
    "lease_expires_at": None,
    "slot_reserved": False,
    **{name: bindparam(f"new_{name}", type_=Job.__table__.c[name].type) for name in RECORDED},
    "next_attempt_at": _unless_canceled(bindparam("new_next_attempt_at", type_=Job.__table__.c.next_attempt_at.type)),
    "waiting_for": _unless_canceled(bindparam("new_waiting_for", type_=Job.__table__.c.waiting_for.type)),
    "cancel_requested": case((_CANCELED_MEANWHILE, False), else_=Job.cancel_requested),
}
_STATE = case((_CANCELED_MEANWHILE, literal_column("'canceled'")), else_=bindparam("to", type_=String))
_AFTER = (Job.id, Job.state, Job.has_dependents, Job.notify_due)
_WHERE = (Job.id == bindparam("job_id"), Job.lease_token == bindparam("token"))
RECORD = transitions.prepared("record", *_WHERE, values=_RECORD_VALUES, returning=_AFTER, state=_STATE)
RECORD_RESULT = transitions.prepared(
    "record",
    *_WHERE,
    values={**_RECORD_VALUES, "result": bindparam("new_result", type_=Job.__table__.c.result.type)},
    returning=_AFTER,
    state=_STATE,
)
INSERT_ATTEMPT = insert(Attempt)
#: An attempt's columns, as the bind parameters ``attempt_<column>``.
ATTEMPT_COLUMNS = [c for c in Attempt.__table__.c if c.key != "id"]


def with_attempt(record: Update, *, reference: bool = False) -> Select[Any]:
    """``record`` and the attempts row in one statement (PostgreSQL: data-modifying WITH): one
    round trip, atomic as any statement. The row is written only if the job moved. ``reference``:
    also keep the one new reference its result carries (the bind parameter ``reference``), as a
    submit's ``Order_…``."""
    moved = record.cte("moved")
    values = [moved.c.id if c.key == "job_id" else bindparam(f"attempt_{c.key}", type_=c.type) for c in ATTEMPT_COLUMNS]
    attempt = insert(Attempt).from_select([c.key for c in ATTEMPT_COLUMNS], select(*values)).cte("attempt")
    statement = select(moved.c.state, moved.c.has_dependents, moved.c.notify_due).add_cte(attempt)
    if reference:
        kept = (
            postgresql.insert(JobReference)
            .from_select(["job_id", "value", "source"], select(moved.c.id, bindparam("reference", type_=String), literal("result")))
            .on_conflict_do_nothing()
            .cte("reference")
        )
        statement = statement.add_cte(kept)
    return statement


RECORD_WITH_ATTEMPT = with_attempt(RECORD)
RECORD_RESULT_WITH_ATTEMPT = with_attempt(RECORD_RESULT)
RECORD_RESULT_WITH_ATTEMPT_AND_REFERENCE = with_attempt(RECORD_RESULT, reference=True)


def job_of(row: Row[Any]) -> Job:
    """A claimed job's row as a (detached) :class:`Job`: what the rest of the runner reads."""
    return Job(**{column.key: row._mapping[column] for column in JOB_COLUMNS})
