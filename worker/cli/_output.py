"""How the command line shows things: colours for states, short ages."""

from __future__ import annotations

from typing import Any


def state_style(state: str) -> str:
    colour = {"succeeded": "green", "failed": "red", "needs_review": "magenta", "waiting": "yellow", "running": "cyan"}.get(state)
    return f"[{colour}]{state}[/]" if colour else state


def age(delta: Any) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
