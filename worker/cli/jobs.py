"""``printrelay jobs …``: look at jobs and act on them (the same engine as the admin tasks)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click

from worker.cli._app import main
from worker.cli._output import age, state_style
from worker.states import INTERNAL_KINDS, JOB_KINDS, JobState


@main.group()
def jobs() -> None:
    """Look at jobs."""


@jobs.command("list")
@click.option("--state", type=click.Choice([s.value for s in JobState]))
@click.option("--provider")
@click.option("--kind", type=click.Choice((*JOB_KINDS, *INTERNAL_KINDS)))
@click.option("--account", help="only this account's jobs")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100000))
@click.option("--json", "as_json", is_flag=True)
def list_(state: str | None, provider: str | None, kind: str | None, account: str | None, limit: int, as_json: bool) -> None:
    """The newest jobs first."""
    from worker.queries import list_jobs

    found = list_jobs(state=state, provider=provider, kind=kind, account=account, limit=limit)
    if as_json:
        click.echo(json.dumps([job.to_dict() for job in found]))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    table.add_column("id", no_wrap=True)
    for column in ("state", "provider", "kind", "age", "attempts", "last error"):
        table.add_column(column, overflow="fold")
    now = datetime.now(UTC)
    for job in found:
        error = f"{job.error['code']}: {job.error['message']}" if job.error else ""
        table.add_row(job.id, state_style(job.state), job.provider, job.kind, age(now - job.created_at), str(job.attempt_count), error[:60])
    Console().print(table)


@jobs.command("show")
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True)
def show(job_id: str, as_json: bool) -> None:
    """One job with its attempt history."""
    from worker.queries import get_job

    job = get_job(job_id)
    if as_json:
        click.echo(json.dumps(job.to_dict()))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    data = job.to_dict()
    console.print(f"[bold]{job.id}[/]  {job.provider}/{job.kind}  account={job.account}  state={state_style(job.state)}")
    console.print(
        f"created {data['created_at']}  updated {data['updated_at']}"
        + (f"  next attempt {data['next_attempt_at']}" if job.next_attempt_at else "")
    )
    if job.idempotency_key:
        console.print(f"idempotency key: {job.idempotency_key}")
    if job.result is not None:
        console.print(f"result: {json.dumps(job.result)}")
    if job.error:
        console.print(f"error: [red]{job.error['code']}[/]: {job.error['message']}")
    table = Table(box=None, header_style="bold", title="attempts", title_justify="left")
    for column in ("#", "outcome", "http", "retry-after", "error", "request", "started", "took"):
        table.add_column(column)
    for attempt in job.attempts or []:
        took = (attempt.finished_at - attempt.started_at).total_seconds()
        error = attempt.error_code or ""
        if attempt.error_message:
            error += f": {attempt.error_message}"
        if attempt.note:
            error += f" ({attempt.note})" if error else attempt.note
        table.add_row(
            str(attempt.number),
            attempt.outcome,
            str(attempt.http_status or ""),
            f"{attempt.retry_after:g}s" if attempt.retry_after is not None else "",
            error[:80],
            attempt.request or "",
            attempt.started_at.strftime("%H:%M:%S.%f")[:-3],
            f"{took:.3f}s",
        )
    console.print(table)
    for event in job.events or []:
        console.print(f"{event['at']}  {event['action']} by {event['actor']}" + (f" ({event['detail']})" if event["detail"] else ""))


def _cli_actor() -> str:
    import getpass
    import socket

    return f"cli:{getpass.getuser()}@{socket.gethostname()}"


def _admin() -> Any:
    from worker.admin import Admin
    from worker.runtime import get_runtime

    return Admin(get_runtime())


@jobs.command("retry")
@click.argument("job_id")
def retry(job_id: str) -> None:
    """A failed, needs_review or canceled job runs again (fresh attempt budget and deadline)."""
    click.echo(json.dumps(_admin().retry(job_id, actor=_cli_actor()).to_dict()))


@jobs.command("replay")
@click.argument("job_id")
@click.option("--force", is_flag=True, help="also replay a succeeded submit_order (places a second order)")
def replay(job_id: str, force: bool) -> None:
    """Any finished job runs again; its history is kept."""
    click.echo(json.dumps(_admin().replay(job_id, actor=_cli_actor(), force=force).to_dict()))


@jobs.command("cancel")
@click.argument("job_id")
def cancel(job_id: str) -> None:
    """A queued, waiting or blocked job stops; a running one stops after its current attempt."""
    click.echo(json.dumps(_admin().cancel(job_id, actor=_cli_actor()).to_dict()))


@jobs.command("retry-failed")
@click.option("--provider")
@click.option("--kind", type=click.Choice((*JOB_KINDS, *INTERNAL_KINDS)))
@click.option("--error-code")
@click.option("--since", help="only jobs that failed within this long: 30m, 2h, 7d")
@click.option("--dry-run", is_flag=True, help="only count")
def retry_failed(provider: str | None, kind: str | None, error_code: str | None, since: str | None, dry_run: bool) -> None:
    """Retry every failed job matching the filters."""
    ids = _admin().retry_failed(actor=_cli_actor(), provider=provider, kind=kind, error_code=error_code, since=since, dry_run=dry_run)
    click.echo(json.dumps({"count": len(ids), "job_ids": ids, "dry_run": dry_run}))
