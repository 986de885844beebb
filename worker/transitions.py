"""A job's state has one home: the named moves between states, each one conditional UPDATE.

Nothing else writes ``jobs.state``. Each move has a name and the table below says from which
states it may start and where it may lead. :func:`move` puts the "from" states into the UPDATE's
WHERE clause, so when two parties race for a job (two workers, a worker and beat's recovery, a
worker and an operator) exactly one UPDATE matches the row and the other changes nothing: the
row is the lock. A move to a state its transition does not allow is a bug, refused before any
SQL is sent.

    >>> TRANSITIONS["claim"].sources == {JobState.QUEUED, JobState.WAITING}
    True
    >>> allowed("retry", JobState.SUCCEEDED)
    False

Warning: the sources a caller passes narrow the table's, never widen it; a caller that needs a
new move adds a row here (and to the table test), not a bare ``update(Job)`` elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Result, Update, bindparam, literal_column, or_, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from worker.states import FINISHED, JobState
from worker.store import Job

Q, R, W, B = JobState.QUEUED, JobState.RUNNING, JobState.WAITING, JobState.BLOCKED
S, F, NR, C, SK = JobState.SUCCEEDED, JobState.FAILED, JobState.NEEDS_REVIEW, JobState.CANCELED, JobState.SKIPPED


@dataclass(frozen=True)
class Transition:
    name: str
    sources: frozenset[JobState]
    targets: frozenset[JobState]
    #: who makes the move, and why (for the reader of the table)
    why: str


def _t(name: str, sources: Iterable[JobState], targets: Iterable[JobState], why: str) -> Transition:
    return Transition(name, frozenset(sources), frozenset(targets), why)


TABLE = (
    _t("claim", {Q, W}, {R}, "a worker takes the job (a waiting one only when due)"),
    _t("hand_back", {R}, {W, F}, "no rate-limit slot soon: back to waiting, not an attempt (failed past the deadline)"),
    _t(
        "record",
        {R},
        {S, F, W, NR, SK, C},
        "an attempt's outcome, or the recovery's crashed attempt, decides (canceled, not waiting, if an operator asked meanwhile)",
    ),
    _t("supersede", {Q, W, B}, {SK}, "a later job on the same order made it unnecessary (a delete's pending updates)"),
    _t("dispatch", {W}, {Q}, "beat: the wait is over"),
    _t("block_fail", {B}, {F}, "a job it depends on failed: dependency_failed"),
    _t("release", {B, F}, {Q}, "what it waited for succeeded (or a failed dependency was retried)"),
    _t("retry", {F, NR, C}, {Q}, "an operator: run it again with a fresh budget"),
    _t("replay", FINISHED, {Q}, "an operator: run a finished job again"),
    _t("cancel", {Q, W, B, NR}, {C}, "an operator stops a job that is not running"),
)
TRANSITIONS: Mapping[str, Transition] = {t.name: t for t in TABLE}


#: Values for a move back to unfinished (retry, replay, release): a job whose end was announced,
#: or was to be, is announced again when it ends anew (see worker.notify).
REARM = {"notify_due": or_(Job.notify_due, Job.notified_at.is_not(None))}


class IllegalTransition(Exception):
    """A move the table does not allow: a programming error, never a race (races match no row)."""


def allowed(name: str, source: JobState, target: JobState | None = None) -> bool:
    transition = TRANSITIONS[name]
    return source in transition.sources and (target is None or target in transition.targets)


def move(
    session: Session | Connection,
    name: str,
    *where: ColumnElement[bool],
    to: JobState,
    values: Mapping[str, Any] | None = None,
    sources: Iterable[JobState] | None = None,
    returning: tuple[Any, ...] = (),
) -> Result[Any]:
    """``UPDATE jobs SET state=to, **values WHERE <where> AND state IN <sources>``.

    ``sources`` narrows the transition's sources (e.g. ``release`` from ``failed`` only for
    ``dependency_failed``, which the caller adds to ``where``). Returns the result: its
    ``rowcount`` says whether the job moved, ``returning`` columns come back as rows.
    """
    transition = TRANSITIONS[name]
    chosen = frozenset(sources) if sources is not None else transition.sources
    if to not in transition.targets or not chosen <= transition.sources:
        raise IllegalTransition(f"{name}: {sorted(chosen)} -> {to} is not in the table")
    statement = update(Job).where(*where, Job.state.in_(sorted(s.value for s in chosen))).values(state=to.value, **dict(values or {}))
    if returning:
        statement = statement.returning(*returning)  # type: ignore[assignment]
    return session.execute(statement)


def prepared(
    name: str,
    *where: ColumnElement[bool],
    values: Mapping[str, Any],
    returning: tuple[Any, ...] = (),
    sources: Iterable[JobState] | None = None,
    state: ColumnElement[Any] | None = None,
) -> Update:
    """:func:`move`'s UPDATE built once, for a hot path (a worker's claim and record): the state it
    sets is the bind parameter ``to`` (check it with :func:`target`), ``where`` and ``values``
    hold bind parameters of the caller's. Built once and executed many times, it skips
    SQLAlchemy's statement construction, which costs more than the database does. ``state``: an
    expression of ``to`` instead (the record's: canceled instead of waiting if an operator asked),
    its results all among the transition's targets.

        >>> CLAIM = prepared("claim", Job.id == bindparam("job_id"), values={"lease_token": bindparam("token")})
        >>> connection.execute(CLAIM, {"to": target("claim", JobState.RUNNING), "job_id": …, "token": …})   # doctest: +SKIP
    """
    transition = TRANSITIONS[name]
    chosen = frozenset(sources) if sources is not None else transition.sources
    if not chosen <= transition.sources:
        raise IllegalTransition(f"{name}: {sorted(chosen)} are not all sources of it")
    # the states as literals: an expanding IN parameter would be rendered anew at every execution
    states: list[ColumnElement[Any]] = [literal_column(f"'{s.value}'") for s in sorted(chosen)]
    new_state = state if state is not None else bindparam("to")
    statement = update(Job).where(*where, Job.state.in_(states)).values(state=new_state, **dict(values))
    return statement.returning(*returning) if returning else statement


def target(name: str, to: JobState) -> str:
    """The ``to`` parameter of a :func:`prepared` move, refused if the table does not allow it."""
    if to not in TRANSITIONS[name].targets:
        raise IllegalTransition(f"{name}: -> {to} is not in the table")
    return to.value


def moved(result: Result[Any]) -> int:
    """How many jobs a :func:`move` without ``returning`` moved."""
    return int(result.rowcount)  # type: ignore[attr-defined]
