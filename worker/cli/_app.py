"""The ``printrelay`` group itself: how a refusal looks, and the checks every command shares.

A refused command exits non-zero with a one-line reason on stderr (and no traceback).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from worker.errors import PrintrelayError

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


def check_database() -> None:
    from config.settings import get_settings
    from worker.store import Store

    store = Store(get_settings().database_url)
    try:
        if not store.is_initialised():
            fail("the database has no printrelay tables yet: run `printrelay db upgrade`")
    finally:
        store.dispose()
