"""``printrelay jobs …``: look at jobs and act on them (the same engine as the admin tasks).

Every command that takes a job id takes a unique prefix of it too (the tables show eight
characters), as git takes a short hash; an ambiguous prefix is refused, naming the candidates.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from worker.cli._app import main
from worker.cli.tables import age, console, print_json, print_table, short_id, state_style
from worker.states import INTERNAL_KINDS, JOB_KINDS, JobState

JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="print JSON (everything, uncut)")
#: Jobs listed by a dry run's table (the count and --json cover all of them).
DRY_RUN_SHOWN = 50


@main.group()
def jobs() -> None:
    """Look at jobs and act on them."""


def _full_id(job_id: str) -> str:
    from worker.queries import resolve_job_id

    return resolve_job_id(job_id)


def _error_text(error: dict[str, Any] | None) -> str:
    return f"{error['code']}: {error['message']}" if error else ""


def _print_jobs(found: list[Any], *, title: str | None = None) -> None:
    now = datetime.now(UTC)
    rows = (
        (
            short_id(job.id),
            state_style(job.state),
            job.provider,
            job.kind,
            age(now - job.created_at),
            str(job.attempt_count),
            _error_text(job.error),
        )
        for job in found
    )
    print_table(("id", "state", "provider", "kind", "age", "attempts", "last error"), rows, title=title, keep=("id", "state"))


@jobs.command("list")
@click.option("--state", type=click.Choice([s.value for s in JobState]))
@click.option("--provider")
@click.option("--kind", type=click.Choice((*JOB_KINDS, *INTERNAL_KINDS)))
@click.option("--account", help="only this account's jobs")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100000))
@JSON_OPTION
def list_(state: str | None, provider: str | None, kind: str | None, account: str | None, limit: int, as_json: bool) -> None:
    """The newest jobs first."""
    from worker.queries import list_jobs

    found = list_jobs(state=state, provider=provider, kind=kind, account=account, limit=limit)
    if as_json:
        print_json([job.to_dict() for job in found])
        return
    _print_jobs(found)


@jobs.command("find")
@click.argument("text")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100000))
@JSON_OPTION
def find(text: str, limit: int, as_json: bool) -> None:
    """Jobs by id (or prefix), idempotency key, or any reference they carry: a provider's
    Order_… or order id, a shop's own order id (customIdentifier, ecommerce_order_id, …)."""
    from worker.queries import find_jobs

    found = find_jobs(text, limit=limit)
    if as_json:
        print_json([job.to_dict() for job in found])
        return
    if not found:
        click.echo(f"no job carries {text!r} (as its id, idempotency key or a reference)")
        return
    _print_jobs(found, title=f"{len(found)} job{'s' if len(found) != 1 else ''} for {text!r}")


@jobs.command("purge")
@click.option("--finished-before", "finished_before", required=True, help="jobs that finished longer ago than this: 90d, 12h")
@click.option("--dry-run", is_flag=True, help="only count what would be deleted")
@JSON_OPTION
def purge(finished_before: str, dry_run: bool, as_json: bool) -> None:
    """Delete finished jobs (and their attempts) that ended before the cut-off. Kept: unfinished
    jobs, jobs under review, and jobs that such jobs depend on."""
    from worker import retention
    from worker.admin import parse_duration
    from worker.runtime import get_runtime

    runtime = get_runtime()
    before = runtime.runner.clock() - parse_duration(finished_before, "finished-before")
    done = retention.purge(
        runtime.store, before=before, batch=runtime.settings.retention.batch, dry_run=dry_run, artifact_dir=runtime.settings.artifact_dir
    )
    if as_json:
        print_json({**done.to_dict(), "finished_before": before.isoformat()})
        return
    jobs_text = f"{done.jobs} finished job{'s' if done.jobs != 1 else ''}"
    if dry_run:
        click.echo(f"would delete {jobs_text} that ended before {before:%Y-%m-%d %H:%M} UTC")
    else:
        click.echo(f"deleted {jobs_text} (and their attempts) that ended before {before:%Y-%m-%d %H:%M} UTC in {done.seconds:.1f} s")


@jobs.command("show")
@click.argument("job_id")
@JSON_OPTION
def show(job_id: str, as_json: bool) -> None:
    """One job with its attempt history (JOB_ID may be a unique prefix)."""
    import json

    from worker.queries import get_job

    job = get_job(_full_id(job_id))
    if as_json:
        print_json(job.to_dict())
        return
    out = console()
    data = job.to_dict()
    out.print(f"[bold]{job.id}[/]  {state_style(job.state)}")
    out.print(f"{job.provider}/{job.kind}  account={job.account}", markup=False)
    out.print(
        f"created {data['created_at']}  updated {data['updated_at']}"
        + (f"  next attempt {data['next_attempt_at']}" if job.next_attempt_at else "")
    )
    if job.idempotency_key:
        out.print(f"idempotency key: {job.idempotency_key}", no_wrap=True, overflow="ellipsis", markup=False)
    if job.result is not None:
        out.print(f"result: {json.dumps(job.result)}", no_wrap=True, overflow="ellipsis", markup=False)
    if job.error:
        out.print(f"error: {_error_text(job.error)}", no_wrap=True, overflow="ellipsis", markup=False, style="red")
    rows = []
    for attempt in job.attempts or []:
        took = (attempt.finished_at - attempt.started_at).total_seconds()
        error = attempt.error_code or ""
        if attempt.error_message:
            error += f": {attempt.error_message}"
        if attempt.note:
            error += f" ({attempt.note})" if error else attempt.note
        rows.append(
            (
                str(attempt.number),
                attempt.outcome,
                str(attempt.http_status or ""),
                f"{attempt.retry_after:g}s" if attempt.retry_after is not None else "",
                attempt.started_at.strftime("%H:%M:%S.%f")[:-3],
                f"{took:.3f}s",
                attempt.request or "",
                error,
            )
        )
    columns = ("#", "outcome", "http", "retry-after", "started", "took", "request", "error")
    print_table(columns, rows, title="attempts", keep=("#", "outcome", "http"))
    for event in job.events or []:
        line = f"{event['at']}  {event['action']} by {event['actor']}" + (f" ({event['detail']})" if event["detail"] else "")
        out.print(line, no_wrap=True, overflow="ellipsis", markup=False)


def _cli_actor() -> str:
    import getpass
    import socket

    return f"cli:{getpass.getuser()}@{socket.gethostname()}"


def _admin() -> Any:
    from worker.admin import Admin
    from worker.runtime import get_runtime

    return Admin(get_runtime())


def _report(done: Any, as_json: bool) -> None:
    if as_json:
        print_json(done.to_dict())
    else:
        click.echo(f"{done.action}: job {done.job_id} is now {done.state}")


@jobs.command("retry")
@click.argument("job_id")
@JSON_OPTION
def retry(job_id: str, as_json: bool) -> None:
    """A failed, needs_review or canceled job runs again (fresh attempt budget and deadline)."""
    _report(_admin().retry(_full_id(job_id), actor=_cli_actor()), as_json)


@jobs.command("replay")
@click.argument("job_id")
@click.option("--force", is_flag=True, help="also replay a succeeded submit_order (places a second order)")
@JSON_OPTION
def replay(job_id: str, force: bool, as_json: bool) -> None:
    """Any finished job runs again; its history is kept."""
    _report(_admin().replay(_full_id(job_id), actor=_cli_actor(), force=force), as_json)


@jobs.command("cancel")
@click.argument("job_id")
@JSON_OPTION
def cancel(job_id: str, as_json: bool) -> None:
    """A queued, waiting or blocked job stops; a running one stops after its current attempt."""
    _report(_admin().cancel(_full_id(job_id), actor=_cli_actor()), as_json)


@jobs.command("retry-failed")
@click.option("--provider")
@click.option("--kind", type=click.Choice((*JOB_KINDS, *INTERNAL_KINDS)))
@click.option("--error-code")
@click.option("--since", help="only jobs that failed within this long: 30m, 2h, 7d")
@click.option("--account", help="only this account's jobs")
@click.option("--dry-run", is_flag=True, help="only list what would be retried")
@JSON_OPTION
def retry_failed(
    provider: str | None, kind: str | None, error_code: str | None, since: str | None, account: str | None, dry_run: bool, as_json: bool
) -> None:
    """Retry every failed job matching the filters (--dry-run: list them first)."""
    from worker.queries import get_job

    ids = _admin().retry_failed(
        actor=_cli_actor(), provider=provider, kind=kind, error_code=error_code, since=since, account=account, dry_run=dry_run
    )
    if as_json:
        print_json({"count": len(ids), "job_ids": ids, "dry_run": dry_run})
        return
    verb = "would retry" if dry_run else "retried"
    if dry_run and ids:
        shown = [get_job(job_id, attempts=False) for job_id in ids[:DRY_RUN_SHOWN]]
        more = f" (the first {DRY_RUN_SHOWN} shown; --json lists all)" if len(ids) > DRY_RUN_SHOWN else ""
        _print_jobs(shown, title=f"{verb} {len(ids)} failed job{'s' if len(ids) != 1 else ''}{more}")
    else:
        listed = ", ".join(short_id(i) for i in ids[:10]) + (", …" if len(ids) > 10 else "")
        click.echo(f"{verb} {len(ids)} failed job{'s' if len(ids) != 1 else ''}" + (f": {listed}" if ids else ""))
