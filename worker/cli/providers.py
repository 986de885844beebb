"""``printrelay providers``: each provider account's pause, buckets and held jobs; pause and resume."""

from __future__ import annotations

import click

from worker.cli._app import main
from worker.cli.jobs import _cli_actor
from worker.cli.tables import print_json, print_table


@main.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="print JSON (everything, uncut)")
@click.pass_context
def providers(ctx: click.Context, as_json: bool) -> None:
    """Each provider and account: its circuit, paused or not, its rate-limit buckets, the jobs it holds."""
    if ctx.invoked_subcommand is not None:
        return
    from worker import fleet
    from worker.runtime import get_runtime

    rows = fleet.statuses(get_runtime())
    if as_json:
        print_json([row.to_dict() for row in rows])
        return

    def paused(row: fleet.ProviderStatus) -> str:
        if row.paused is None:
            return ""
        until = f"until {row.paused['until']}" if row.paused["until"] else "until resumed"
        return f"{until} by {row.paused['by']}" + (f": {row.paused['reason']}" if row.paused["reason"] else "")

    def buckets(row: fleet.ProviderStatus) -> str:
        if row.buckets is None:
            return "Redis did not answer"
        return ", ".join(
            f"{name} {b['available']:g}/{b['quota']:g}" + (f" frozen {b['frozen_for']:g}s" if b["frozen_for"] else "")
            for name, b in row.buckets.items()
        )

    table_rows = [(r.provider, r.account, str(r.held), str(r.waiting), paused(r), buckets(r)) for r in rows]
    print_table(
        ("provider", "account", "held", "waiting", "paused", "buckets (free/quota)"), table_rows, keep=("provider", "held", "waiting")
    )


@providers.command("pause")
@click.argument("provider")
@click.option("--account", default="default", show_default=True)
@click.option("--for", "duration", default=None, help="how long: 30m, 2h, 1d  [default: until resumed]")
@click.option("--reason", default=None, help="shown with the pause (and recorded)")
@click.option("--json", "as_json", is_flag=True)
def pause(provider: str, account: str, duration: str | None, reason: str | None, as_json: bool) -> None:
    """Hold the provider account's jobs: they wait without spending attempts."""
    from worker.admin import Admin, parse_duration
    from worker.runtime import get_runtime

    seconds = parse_duration(duration, "--for").total_seconds() if duration else None
    done = Admin(get_runtime()).pause(provider, account, seconds=seconds, reason=reason, actor=_cli_actor())
    if as_json:
        print_json(done)
    else:
        until = done["paused"]["until"] or "resumed"
        click.echo(f"paused {provider}/{account} until {until}")


@providers.command("resume")
@click.argument("provider")
@click.option("--account", default="default", show_default=True)
@click.option("--json", "as_json", is_flag=True)
def resume(provider: str, account: str, as_json: bool) -> None:
    """End the pause: the held jobs go on now, spaced by the provider's rate limits."""
    from worker.admin import Admin
    from worker.runtime import get_runtime

    done = Admin(get_runtime()).resume(provider, account, actor=_cli_actor())
    if as_json:
        print_json(done)
    else:
        click.echo(f"resumed {provider}/{account}: {done['released']} held job{'s' if done['released'] != 1 else ''} queued")
