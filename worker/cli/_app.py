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

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # remembered for the group's callback, which runs before the command reads its --help
        ctx.meta[HELP_ASKED] = any(arg in ctx.help_option_names for arg in args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PrintrelayError as exc:
            fail(f"{exc.code}: {exc}")
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # click's own: --help, a usage error
        except Exception as exc:
            # SQLAlchemy is imported only now: importing it costs a command's --help 0.2 s
            from sqlalchemy.exc import OperationalError, ProgrammingError

            if not isinstance(exc, (OperationalError, ProgrammingError)):
                raise
            text = str(exc.orig) if getattr(exc, "orig", None) else str(exc)
            if "no such table" in text or "does not exist" in text:
                fail("the database has no printrelay tables yet: run `printrelay db upgrade`")
            fail(f"database error: {text.splitlines()[0]}")


#: ``ctx.meta`` key: the command line asks for a command's help (nothing runs; no setting is read).
HELP_ASKED = "printrelay.help_asked"


@click.group(cls=Group)
@click.version_option(package_name="printrelay")
@click.pass_context
def main(ctx: click.Context) -> None:
    """printrelay: fulfilment jobs for print providers, carried out by Celery workers."""
    if not ctx.meta.get(HELP_ASKED):  # the settings' schema imports every provider: not for --help
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
