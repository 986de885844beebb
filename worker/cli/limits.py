"""``printrelay limits``: the shared rate-limit buckets as Redis holds them now."""

from __future__ import annotations

import json

import click

from worker.cli._app import main
from worker.cli.tables import print_table


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
    columns = ("provider", "account", "bucket", "quota", "tokens free", "frozen for", "source")
    print_table(
        columns,
        (
            (
                row.provider,
                row.account,
                row.name,
                f"{row.count}/{row.seconds:g}s",
                f"{row.available:.1f}",
                f"{row.frozen_for:.1f}s" if row.frozen_for else "",
                "learned from the provider" if row.learned else "settings",
            )
            for row in rows
        ),
    )
