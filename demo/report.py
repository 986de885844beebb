"""What the demo shows: jobs by state per provider while it runs, every job's story at the end."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence

from rich.table import Table

from demo.scenario import Planned
from worker.cli.tables import fitted_table
from worker.jobview import JobInfo
from worker.queries import get_job
from worker.runtime import Runtime
from worker.states import JobState

COLOURS = {
    "succeeded": "green",
    "skipped": "cyan",
    "failed": "red",
    "needs_review": "magenta",
    "canceled": "dim",
    "waiting": "yellow",
    "running": "blue",
    "blocked": "dim",
}


#: States shown in the progress table only once a job is in them.
RARE = frozenset({JobState.NEEDS_REVIEW, JobState.CANCELED})


def snapshot(runtime: Runtime, planned: Sequence[Planned]) -> list[tuple[Planned, JobInfo]]:
    return [(p, get_job(p.job_id, runtime=runtime)) for p in planned]


def progress(jobs: Sequence[tuple[Planned, JobInfo]], elapsed: float) -> Table:
    """Jobs by state, one row per provider."""
    counts = Counter((p.provider, job.state) for p, job in jobs)
    providers = list(dict.fromkeys(p.provider for p, _ in jobs))
    table = Table(title=f"printrelay demo — {elapsed:4.0f} s", header_style="bold", min_width=60)
    seen = {state for _, state in counts}
    states = [s.value for s in JobState if s.value in seen or s not in RARE]
    table.add_column("provider")
    for state in states:
        table.add_column(state, justify="right")
    for provider in providers:
        cells = [counts[(provider, state)] for state in states]
        table.add_row(provider, *(f"[{COLOURS.get(state, 'white')}]{n}[/]" if n else "" for state, n in zip(states, cells, strict=True)))
    return table


def outcomes(jobs: Sequence[tuple[Planned, JobInfo]], *, width: int | None = None) -> Table:
    """Every job: how it ended (against what the scenario expected), its attempts, its waits."""
    rows = []
    for planned, job in jobs:
        ok = job.state == planned.expected
        state = f"[{COLOURS.get(job.state, 'white')}]{job.state}[/]" + ("" if ok else f" [red](expected {planned.expected})[/]")
        rows.append((planned.provider, planned.label, job.kind, state, attempts(job), waited(job), detail(job), job.id[:8]))
    # cut with an ellipsis, never wrapped mid-word (`jobs show ID --json` has it all)
    columns = ("provider", "job", "kind", "state", "attempts", "waited", "result or error", "id")
    return fitted_table(columns, rows, title="how every job ended", keep=("provider", "kind", "state", "waited", "id"), width=width)


def attempts(job: JobInfo) -> str:
    return ", ".join(f"{a.outcome}{f' {a.http_status}' if a.http_status else ''}" for a in job.attempts or []) or "—"


def waited(job: JobInfo) -> str:
    """Time between attempts (what Retry-After, backoff and polling cost), and what was asked."""
    history = job.attempts or []
    gaps = sum(max(0.0, (b.started_at - a.finished_at).total_seconds()) for a, b in itertools.pairwise(history))
    asked = sum(a.retry_after or 0 for a in history[:-1])
    if not gaps:
        return ""
    return f"{gaps:.1f} s" + (f" (asked {asked:g} s)" if asked else "")


def detail(job: JobInfo) -> str:
    if job.error:
        return f"{job.error['code']}: {job.error['message']}"
    result = dict(job.result or {})
    if "artifact" in result:
        return f"artifact {result['artifact']['path']} ({result['artifact']['size']} bytes)"
    if "skipped" in result:
        return f"skipped: {result['skipped']}"
    shown = {k: v for k, v in result.items() if isinstance(v, str | int | float) and not isinstance(v, bool)}
    return ", ".join(f"{k}={v}" for k, v in list(shown.items())[:3])


def unexpected(jobs: Sequence[tuple[Planned, JobInfo]]) -> list[tuple[Planned, JobInfo]]:
    return [(p, job) for p, job in jobs if job.state != p.expected]
