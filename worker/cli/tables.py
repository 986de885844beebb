"""How the command line shows things: tables that fit the terminal, colours for states, short ages.

Every listing command prints a table and takes ``--json`` for everything. Tables never wrap a
cell in the middle of a word: a cell too long for the terminal is cut with an ellipsis (the
JSON has it whole). Output to a pipe or a file is as wide as ``COLUMNS`` says (else 80, rich's
default) and every line ends with a newline.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

#: The narrowest a cut cell gets (enough for a few letters and the ellipsis).
MIN_CELL = 6
#: How many characters of a job id the tables show; any unique prefix is accepted back.
SHORT_ID = 8


def console() -> Console:
    from rich.console import Console

    return Console(soft_wrap=False)


def fitted_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    title: str | None = None,
    keep: Sequence[str] = (),
    width: int | None = None,
) -> Table:
    """A table that fits ``width`` (the console's) with cells cut by ``…`` rather than wrapped.

    ``keep`` columns (ids, states, counts) keep their full width; the others share what is
    left, the narrowest first getting all they need. (rich's own shrinking may squeeze a
    no-wrap column to nothing, so the widths are settled here.)
    """
    from rich.table import Table
    from rich.text import Text

    materialised = [list(row) for row in rows]
    natural = [max([len(column), *(Text.from_markup(row[i]).cell_len for row in materialised)]) for i, column in enumerate(columns)]
    budget = (width or console().width) - (len(columns) - 1)  # one space between columns
    widths: dict[int, int] = {}
    flexible = [i for i, column in enumerate(columns) if column not in keep]
    left = budget - sum(natural[i] for i in range(len(columns)) if i not in flexible)
    if sum(natural[i] for i in flexible) > left:
        for n, i in enumerate(sorted(flexible, key=lambda i: natural[i])):
            share = max(left // (len(flexible) - n), min(natural[i], MIN_CELL))
            widths[i] = min(natural[i], share)
            left -= widths[i]
    table = Table(box=None, header_style="bold", title=title, title_justify="left", pad_edge=False, collapse_padding=True)
    for i, column in enumerate(columns):
        table.add_column(column, no_wrap=True, overflow="ellipsis", width=widths.get(i), min_width=None if i in widths else natural[i])
    for row in materialised:
        table.add_row(*row)
    return table


def print_table(columns: Sequence[str], rows: Iterable[Sequence[str]], *, title: str | None = None, keep: Sequence[str] = ()) -> None:
    console().print(fitted_table(columns, rows, title=title, keep=keep))


def print_json(value: Any) -> None:
    click.echo(json.dumps(value))


def short_id(job_id: str) -> str:
    return job_id[:SHORT_ID]


def state_style(state: str) -> str:
    colour = {"succeeded": "green", "failed": "red", "needs_review": "magenta", "waiting": "yellow", "running": "cyan"}.get(state)
    return f"[{colour}]{state}[/]" if colour else state


def age(delta: Any) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
