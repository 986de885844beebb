"""``printrelay catalogue …``: the local copies of the providers' catalogues (see worker.catalogue)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from worker.cli._app import fail, main
from worker.cli.tables import print_table


@main.group()
def catalogue() -> None:
    """Local copies of the providers' catalogues, which enqueue consults (never the network)."""


def _print_catalogues(rows: list[Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([row.to_dict() for row in rows]))
        return
    columns = ("provider", "account", "fetched at", "products", "print", "non-print", "note")
    print_table(
        columns,
        (
            (r.provider, r.account, r.fetched_at or "never", str(r.products), str(r.print_products), str(r.non_print_products), r.note)
            for r in rows
        ),
    )


@catalogue.command("show")
@click.option("--json", "as_json", is_flag=True)
def catalogue_show(as_json: bool) -> None:
    """Each account's copy: when it was fetched and how many products of each kind it knows."""
    from worker import catalogue as copies
    from worker.runtime import get_runtime

    runtime = get_runtime()
    rows = [copies.status(runtime, p, a) for p in copies.providers_with_catalogue() for a in copies.accounts(runtime, p)]
    _print_catalogues(rows, as_json)


@catalogue.command("refresh")
@click.option("--provider", default="printeers", show_default=True)
@click.option("--account", default=None, help="only this account  [default: every configured account]")
@click.option("--json", "as_json", is_flag=True)
def catalogue_refresh(provider: str, account: str | None, as_json: bool) -> None:
    """Fetch the catalogue now (GET /products) and replace the local copy."""
    from worker import catalogue as copies
    from worker.runtime import get_runtime

    if provider not in copies.providers_with_catalogue():
        fail(f"unknown_provider: {provider} keeps no catalogue (these do: {', '.join(copies.providers_with_catalogue())})")
    runtime = get_runtime()
    if account is not None and not runtime.settings.provider(provider).has_account(account):
        fail(f"unknown_account: no settings for account {account!r} of {provider}")
    rows = [copies.refresh(runtime, provider, a) for a in ([account] if account else copies.accounts(runtime, provider))]
    _print_catalogues(rows, as_json)
    if any(row.note != "refreshed" for row in rows):
        sys.exit(1)
