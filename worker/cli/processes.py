"""The long-running processes: worker, beat, flower, metrics, sandbox, and the demo."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from worker.cli._app import check_database, fail, main


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
    check_database()
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
@click.option("--port", default=None, type=int, help="[default: PRINTRELAY_CONSOLE__PORT, 5556]")
@click.option("--unauthenticated", is_flag=True, help="start without authentication (only where nobody else can reach it)")
def console(host: str, port: int | None, unauthenticated: bool) -> None:
    """Serve the console: find any job, read its story, act on it; providers at a glance.

    Sign-in is PRINTRELAY_CONSOLE__BASIC_AUTH (user:password, may act) and optionally
    PRINTRELAY_CONSOLE__VIEWER_AUTH (read only); without the first it does not start unless
    --unauthenticated says so explicitly.
    """
    import uvicorn

    from config.settings import get_settings
    from worker.console import Credentials, create_app
    from worker.runtime import get_runtime

    settings = get_settings().console
    if settings.basic_auth is None and not unauthenticated:
        fail("the console needs PRINTRELAY_CONSOLE__BASIC_AUTH=user:password (or --unauthenticated to start it without)")
    try:
        credentials = Credentials(
            settings.basic_auth.get_secret_value() if settings.basic_auth else None,
            settings.viewer_auth.get_secret_value() if settings.viewer_auth else None,
            unauthenticated=unauthenticated,
        )
    except ValueError:
        fail("PRINTRELAY_CONSOLE__BASIC_AUTH and …__VIEWER_AUTH must be user:password")
    if settings.basic_auth is None:
        click.echo("printrelay: warning: the console starts WITHOUT authentication", err=True)
    port = port or settings.port
    click.echo(f"printrelay console on http://{host}:{port}/")
    uvicorn.run(create_app(get_runtime(), credentials), host=host, port=port, log_level="warning")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=9100, show_default=True, type=int)
def metrics(host: str, port: int) -> None:
    """Serve Prometheus metrics of the jobs (states, attempts, queue waits, bucket waits, 429s)
    and of each provider account (circuit, pause, buckets, jobs held)."""
    import time

    from prometheus_client import start_http_server
    from prometheus_client.registry import CollectorRegistry

    from worker import fleet
    from worker.metrics import JobsCollector
    from worker.runtime import get_runtime

    runtime = get_runtime()
    registry = CollectorRegistry()
    registry.register(JobsCollector(runtime.store, runtime.limiter.client, lambda: fleet.statuses(runtime)))
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


@main.command()
@click.option("--exit", "exit_", is_flag=True, help="stop once the scenario has finished")
def demo(exit_: bool) -> None:
    """Start what is missing, run a scenario against the sandbox, print how every job ended."""
    from demo import run_demo

    sys.exit(run_demo(keep_serving=not exit_))
