"""``printrelay enqueue``: validate, record and queue one job from a shell — or one per line of a
JSON Lines file (``--payload-file FILE.jsonl``), all checked before any is recorded.

Startup matters here (a shell loop may call it thousands of times): everything heavy is imported
when the command runs, not when the CLI loads.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from worker.cli._app import fail, main
from worker.states import JOB_KINDS

if TYPE_CHECKING:
    from rich.progress import TaskID


class ProviderOption(click.Option):
    """``--provider``, whose help lists the print providers (read only when shown, and without
    importing them)."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from worker.adapters.registry import print_provider_names

        self.help = "one of: " + ", ".join(print_provider_names())
        return super().get_help_record(ctx)


@main.command()
@click.argument("kind", type=click.Choice(JOB_KINDS))
@click.option("--provider", "-p", required=True, cls=ProviderOption)
@click.option("--account", default="default", show_default=True)
@click.option(
    "--idempotency-key",
    default=None,
    help="the same key again returns the first job and creates nothing (a .jsonl file: KEY:LINE for each line)",
)
@click.option("--payload", "payload_text", default=None, help="the payload as JSON")
@click.option(
    "--payload-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="the payload as a JSON file, or a JSON Lines file (.jsonl): one job per line",
)
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
    from worker.errors import InvalidPayload

    if notify_queue and not notify_task:
        fail("invalid_payload: --notify-queue: needs --notify-task")
    notify = {k: v for k, v in {"task": notify_task, "queue": notify_queue, "url": notify_url}.items() if v} or None

    if (payload_text is None) == (payload_file is None):
        fail("give exactly one of --payload and --payload-file")
    text = payload_text if payload_text is not None else payload_file.read_text()  # type: ignore[union-attr]
    if payload_file is not None and _is_json_lines(payload_file, text):
        if images:
            fail("--image takes one job's payload, not a JSON Lines file")
        _enqueue_lines(kind, provider, account, idempotency_key, text, notify, as_json)
        return
    try:
        payload = json.loads(text)
    except ValueError as exc:
        fail(f"invalid_payload: payload: not valid JSON ({exc})")
    try:
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
            from worker.producer import intake

            job = intake().enqueue(kind, provider, payload, account=account, idempotency_key=idempotency_key, notify=notify)
    except InvalidPayload as exc:
        if as_json:  # every problem, for a program to read; the one-line reason still goes to stderr
            click.echo(json.dumps({"error": exc.to_dict()}))
        raise
    if as_json:
        click.echo(json.dumps(job.to_dict()))
    else:
        click.echo(job.id)


#: Files of at least this many lines show a progress bar (on a terminal).
PROGRESS_FROM = 200


def _is_json_lines(path: Path, text: str) -> bool:
    """A ``.jsonl``/``.ndjson`` file, or one that is not a single JSON document but a line of one."""
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        return True
    try:
        json.loads(text)
    except ValueError as exc:
        return "Extra data" in str(exc)
    return False


def _enqueue_lines(
    kind: str, provider: str, account: str, key: str | None, text: str, notify: dict[str, str] | None, as_json: bool
) -> None:
    """One job per non-blank line, through ``enqueue_many``: every line is checked before any is
    recorded; then one transaction and pipelined publishes."""
    from worker.errors import InvalidPayload
    from worker.producer import intake

    numbers: list[int] = []
    payloads: list[object] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            payloads.append(json.loads(line))
        except ValueError as exc:
            fail(f"invalid_payload: line {number}: not valid JSON ({exc})")
        numbers.append(number)
    if not payloads:
        fail("invalid_payload: the file has no payload in it")
    keys = [f"{key}:{number}" for number in numbers] if key else None
    with _progress(len(payloads)) as advance:
        try:
            jobs = intake().enqueue_many(kind, provider, payloads, account=account, idempotency_keys=keys, notify=notify, progress=advance)
        except InvalidPayload as exc:  # payloads[i] is line numbers[i] of the file
            index = int(exc.field.split("]", 1)[0].removeprefix("payloads[")) if exc.field.startswith("payloads[") else 0
            number = numbers[index]
            if as_json:
                click.echo(json.dumps({"error": {**exc.to_dict(), "line": number}}))
            fail(f"{exc.code}: line {number}: {str(exc).removeprefix(f'payloads[{index}]').lstrip('.:').strip()}")
    made = len({job.id for job in jobs})
    click.echo(f"printrelay: {len(jobs)} jobs from {len(payloads)} lines ({made} distinct)", err=True)
    if as_json:
        click.echo(json.dumps([job.to_dict() for job in jobs]))
    else:
        click.echo("\n".join(job.id for job in jobs))


@contextmanager
def _progress(total: int) -> Iterator[Callable[[str, int], None]]:
    """A progress bar on stderr for a big file on a terminal; else nothing (the callback ignores)."""
    import sys

    if total < PROGRESS_FROM or not sys.stderr.isatty():
        yield lambda phase, done: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description:>10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def advance(phase: str, done: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done)

        yield advance
