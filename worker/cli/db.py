"""``printrelay db upgrade``: the only command that creates or migrates the tables."""

from __future__ import annotations

import click

from worker.cli._app import main


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
