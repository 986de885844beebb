"""``printrelay``: the command line of CONTRACT.md.

A refused command exits non-zero with a one-line reason on stderr (and no traceback).
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click

from worker.errors import PrintrelayError
from worker.states import INTERNAL_KINDS, JOB_KINDS, JobState

EXIT_REFUSED = 2


def fail(message: str) -> NoReturn:
    click.echo(f"printrelay: {message}", err=True)
    sys.exit(EXIT_REFUSED)


class Group(click.Group):
    """Turns printrelay's own errors and an uninitialised database into one-line refusals."""

    def invoke(self, ctx: click.Context) -> Any:
        from sqlalchemy.exc import OperationalError, ProgrammingError

        try:
            return super().invoke(ctx)
        except PrintrelayError as exc:
            fail(f"{exc.code}: {exc}")
        except (OperationalError, ProgrammingError) as exc:
            text = str(exc.orig) if getattr(exc, "orig", None) else str(exc)
            if "no such table" in text or "does not exist" in text:
                fail("the database has no printrelay tables yet: run `printrelay db upgrade`")
            fail(f"database error: {text.splitlines()[0]}")


@click.group(cls=Group)
@click.version_option(package_name="printrelay")
def main() -> None:
    """printrelay: fulfilment jobs for print providers, carried out by Celery workers."""
    _warn_unknown_settings()


def _warn_unknown_settings() -> None:
    """A misspelt setting would otherwise be ignored without a word."""
    from config.settings import unknown_names

    names = list(os.environ)
    if Path(".env").is_file():
        from dotenv import dotenv_values

        names += list(dotenv_values(".env"))
    for name in unknown_names(dict.fromkeys(names)):
        click.echo(f"printrelay: warning: {name} is not a printrelay setting; it is ignored", err=True)


# -- enqueue ----------------------------------------------------------------------------------


@main.command()
@click.argument("kind", type=click.Choice(JOB_KINDS))
@click.option("--provider", "-p", required=True, help="printeers, printapi, idealfactory, printnow or printlane")
@click.option("--account", default="default", show_default=True)
@click.option("--idempotency-key", default=None, help="the same key again returns the first job and creates nothing")
@click.option("--payload", "payload_text", default=None, help="the payload as JSON")
@click.option("--payload-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
@click.option(
    "--image", "images", multiple=True, metavar="NAME=PATH", help='upload first; {"$image": NAME} in the payload becomes its reference'
)
@click.option("--notify-task", metavar="TASK", help="send this Celery task the job's JSON when it ends")
@click.option("--notify-queue", metavar="QUEUE", default=None, help="the queue for --notify-task  [default: celery]")
@click.option("--notify-url", metavar="URL", help="POST the job's JSON here when it ends, signed (PRINTRELAY_WEBHOOK__SECRET)")
@click.option("--json", "as_json", is_flag=True, help="print the job as JSON")
def enqueue(
    kind: str,
    provider: str,
    account: str,
    idempotency_key: str | None,
    payload_text: str | None,
    payload_file: Path | None,
    images: tuple[str, ...],
    notify_task: str | None,
    notify_queue: str | None,
    notify_url: str | None,
    as_json: bool,
) -> None:
    """Validate, record and queue one job (and the uploads of its --image files)."""
    import worker

    if notify_queue and not notify_task:
        fail("invalid_payload: --notify-queue: needs --notify-task")
    notify = {k: v for k, v in {"task": notify_task, "queue": notify_queue, "url": notify_url}.items() if v} or None

    if (payload_text is None) == (payload_file is None):
        fail("give exactly one of --payload and --payload-file")
    text = payload_text if payload_text is not None else payload_file.read_text()  # type: ignore[union-attr]
    try:
        payload = json.loads(text)
    except ValueError as exc:
        fail(f"invalid_payload: payload: not valid JSON ({exc})")
    if images:
        from worker.flows import enqueue_with_images
        from worker.runtime import get_runtime

        named = {}
        for spec in images:
            name, sep, path = spec.partition("=")
            if not (sep and name and path):
                fail(f"invalid_payload: --image: {spec!r} is not NAME=PATH")
            named[name] = path if path.startswith(("http://", "https://")) else str(Path(path).resolve())
        job, uploads = enqueue_with_images(
            get_runtime().intake, kind, provider, payload, named, account=account, idempotency_key=idempotency_key, notify=notify
        )
        for name, upload in uploads.items():
            click.echo(f"{name}: upload_image {upload.id}", err=True)
    else:
        job = worker.enqueue(kind, provider, payload, account=account, idempotency_key=idempotency_key, notify=notify)
    if as_json:
        click.echo(json.dumps(job.to_dict()))
    else:
        click.echo(job.id)


# -- jobs -------------------------------------------------------------------------------------


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
        table.add_row(
            job.id, _state_style(job.state), job.provider, job.kind, _age(now - job.created_at), str(job.attempt_count), error[:60]
        )
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
    console.print(f"[bold]{job.id}[/]  {job.provider}/{job.kind}  account={job.account}  state={_state_style(job.state)}")
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


def _state_style(state: str) -> str:
    colour = {"succeeded": "green", "failed": "red", "needs_review": "magenta", "waiting": "yellow", "running": "cyan"}.get(state)
    return f"[{colour}]{state}[/]" if colour else state


def _age(delta: Any) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@main.command()
@click.option("--provider", "providers", multiple=True, help="only these providers (repeatable)")
@click.option("--account", default="default", show_default=True)
@click.option("--json", "as_json", is_flag=True)
def limits(providers: tuple[str, ...], account: str, as_json: bool) -> None:
    """Each rate-limit bucket: quota, tokens free now, frozen for how long (shared by all workers)."""
    from config.providers import PROVIDERS
    from worker.runtime import get_runtime

    runtime = get_runtime()
    rows = []
    for provider in providers or tuple(PROVIDERS):
        rows += runtime.limiter.buckets(provider, account, runtime.settings.rate_limits(provider))
    if as_json:
        click.echo(json.dumps([row.__dict__ for row in rows]))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for column in ("provider", "account", "bucket", "quota", "tokens free", "frozen for", "source"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row.provider,
            row.account,
            row.name,
            f"{row.count}/{row.seconds:g}s",
            f"{row.available:.1f}",
            f"{row.frozen_for:.1f}s" if row.frozen_for else "",
            "learned from the provider" if row.learned else "settings",
        )
    Console().print(table)


# -- processes --------------------------------------------------------------------------------


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Start a Celery worker (threads pool; every printrelay queue unless -Q is given)."""
    from config.celery import all_queues
    from config.settings import get_settings
    from worker.app import app

    args = list(ctx.args)
    if not any(a in ("-P", "--pool") or a.startswith("--pool=") for a in args):
        args += ["--pool", "threads"]
    if not any(a in ("-c", "--concurrency") or a.startswith("--concurrency=") for a in args):
        args += ["--concurrency", str(get_settings().worker_concurrency)]
    if not any(a in ("-Q", "--queues") or a.startswith("--queues=") for a in args):
        args += ["--queues", ",".join(all_queues())]
    if not any(a in ("-l", "--loglevel") or a.startswith("--loglevel=") for a in args):
        args += ["--loglevel", "INFO"]
    _check_database()
    app.worker_main(["worker", *args])


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def beat(ctx: click.Context) -> None:
    """Start Celery beat: durable delays (dispatch_due) and recovery (recover_stale, requeue_lost)."""
    from worker.app import app

    args = list(ctx.args)
    if not any(a.startswith(("-s", "--schedule")) for a in args):
        Path("var").mkdir(exist_ok=True)
        args += ["--schedule", str(Path("var") / "celerybeat-schedule")]
    app.start(["beat", *args])


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--unauthenticated", is_flag=True, help="start without authentication (only where nobody else can reach it)")
@click.pass_context
def flower(ctx: click.Context, unauthenticated: bool) -> None:
    """Start Flower on the configured broker, with basic auth from PRINTRELAY_FLOWER__BASIC_AUTH.

    The credentials reach Flower through its environment (FLOWER_BASIC_AUTH), never the command
    line, where any local user could read them. Without them Flower does not start, unless
    --unauthenticated says so explicitly. Its own /metrics (Prometheus) stays available.
    """
    from config.settings import get_settings
    from worker.app import app

    settings = get_settings().flower
    if settings.basic_auth is None and not unauthenticated:
        fail("Flower needs PRINTRELAY_FLOWER__BASIC_AUTH=user:password (or --unauthenticated to start it without)")
    if settings.basic_auth is not None:
        credentials = settings.basic_auth.get_secret_value()
        if ":" not in credentials:
            fail("PRINTRELAY_FLOWER__BASIC_AUTH must be user:password")
        os.environ["FLOWER_BASIC_AUTH"] = credentials
    else:
        click.echo("printrelay: warning: Flower starts WITHOUT authentication", err=True)
        os.environ["FLOWER_UNAUTHENTICATED_API"] = "true"
    args = list(ctx.args)
    if not any(a.startswith("--port") for a in args):
        args.append(f"--port={settings.port}")
    app.start(["flower", *args])


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=9100, show_default=True, type=int)
def metrics(host: str, port: int) -> None:
    """Serve Prometheus metrics of the jobs (states, attempts, queue waits, bucket waits, 429s)."""
    import time

    from prometheus_client import start_http_server
    from prometheus_client.registry import CollectorRegistry

    from worker.metrics import JobsCollector
    from worker.runtime import get_runtime

    runtime = get_runtime()
    registry = CollectorRegistry()
    registry.register(JobsCollector(runtime.store, runtime.limiter.client))
    start_http_server(port, addr=host, registry=registry)
    click.echo(f"printrelay metrics on http://{host}:{port}/metrics")
    while True:
        time.sleep(3600)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=9000, show_default=True, type=int)
def sandbox(host: str, port: int) -> None:
    """Serve the local stand-in for the providers' APIs."""
    from sandbox.server import serve

    serve(host, port)


@main.group()
def db() -> None:
    """The job store."""


@db.command()
def upgrade() -> None:
    """Create or migrate the tables (Alembic, to the newest revision)."""
    from config.settings import get_settings
    from worker.store import Store

    store = Store(get_settings().database_url)
    store.upgrade()
    click.echo(f"database at {store.engine.url.render_as_string(hide_password=True)} is up to date")


@main.command()
@click.option("--exit", "exit_", is_flag=True, help="stop once the scenario has finished")
def demo(exit_: bool) -> None:
    """Start what is missing, run a scenario against the sandbox, print how every job ended."""
    from worker.demo import run_demo

    sys.exit(run_demo(keep_serving=not exit_))


def _check_database() -> None:
    from config.settings import get_settings
    from worker.store import Store

    store = Store(get_settings().database_url)
    try:
        if not store.is_initialised():
            fail("the database has no printrelay tables yet: run `printrelay db upgrade`")
    finally:
        store.dispose()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
