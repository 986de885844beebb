"""The table of allowed moves (worker.transitions), tested as a table on SQLite and PostgreSQL:
every named transition from every state, and that nothing outside the module writes the state."""

from __future__ import annotations

import ast
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from worker import transitions
from worker.runtime import Runtime
from worker.states import JobState
from worker.store import Job
from worker.store.types import utcnow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def made(runtime: Runtime) -> Iterator[list[str]]:
    """The ids of the rows a test made; deleted after it (beat's scans in other tests see the
    whole shared database, and a bare blocked row would look stuck to them)."""
    ids: list[str] = []
    yield ids
    with runtime.store.transaction() as session:
        session.execute(delete(Job).where(Job.id.in_(ids)))


def a_job_in(runtime: Runtime, state: JobState, made: list[str]) -> str:
    now = utcnow()
    job_id = str(uuid.uuid4())
    made.append(job_id)
    with runtime.store.transaction() as session:
        session.add(
            Job(
                id=job_id,
                kind="track_order",
                provider="printeers",
                account="default",
                state=state.value,
                payload={"order_reference": "Order_x"},
                attempt_count=0,
                budget_used=0,
                reconcile=False,
                deadline_at=now + timedelta(hours=1),
                notify_due=False,
                queued_at=now,
                created_at=now,
                updated_at=now,
            )
        )
    return job_id


@pytest.mark.parametrize("name", sorted(transitions.TRANSITIONS))
def test_each_transition_moves_exactly_from_its_sources(runtime: Runtime, made: list[str], name: str) -> None:
    transition = transitions.TRANSITIONS[name]
    target = sorted(transition.targets)[0]
    for state in JobState:
        job_id = a_job_in(runtime, state, made)
        with runtime.store.transaction() as session:
            count = transitions.moved(transitions.move(session, name, Job.id == job_id, to=target))
        with runtime.store.transaction() as session:
            now_in = session.execute(select(Job.state).where(Job.id == job_id)).scalar_one()
        expected = state in transition.sources
        assert (count == 1) is expected, f"{name} from {state}"
        assert now_in == (target.value if expected else state.value)


@pytest.mark.parametrize("name", sorted(transitions.TRANSITIONS))
def test_a_target_outside_the_table_is_refused_before_any_sql(runtime: Runtime, made: list[str], name: str) -> None:
    transition = transitions.TRANSITIONS[name]
    job_id = a_job_in(runtime, sorted(transition.sources)[0], made)
    for target in set(JobState) - transition.targets:
        with runtime.store.transaction() as session, pytest.raises(transitions.IllegalTransition):
            transitions.move(session, name, Job.id == job_id, to=target)
    widened = set(JobState) - transition.sources
    if widened:
        with runtime.store.transaction() as session, pytest.raises(transitions.IllegalTransition):
            transitions.move(session, name, Job.id == job_id, to=sorted(transition.targets)[0], sources=widened)


def test_nothing_else_writes_the_job_state() -> None:
    """Outside worker/transitions.py an ``update(Job)`` sets named columns only, never ``state``
    (nor an opaque ``**values`` that could hide it)."""
    offenders = []
    for path in sorted((ROOT / "worker").rglob("*.py")):
        if path.name == "transitions.py" or "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "values"):
                continue
            chain = ast.unparse(node.func.value)
            if not chain.startswith("update(Job)"):
                continue
            if any(k.arg in ("state", None) for k in node.keywords):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
