"""``printrelay enqueue``: validate, record and queue one job from a shell."""

from __future__ import annotations

import json
from pathlib import Path

import click

from worker.cli._app import fail, main
from worker.states import JOB_KINDS


class ProviderOption(click.Option):
    """``--provider``, whose help lists the registered print providers (read only when shown)."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from worker.adapters.registry import print_providers

        self.help = "one of: " + ", ".join(print_providers())
        return super().get_help_record(ctx)


@main.command()
@click.argument("kind", type=click.Choice(JOB_KINDS))
@click.option("--provider", "-p", required=True, cls=ProviderOption)
@click.option("--account", default="default", show_default=True)
@click.option("--idempotency-key", default=None, help="the same key again returns the first job and creates nothing")
@click.option("--payload", "payload_text", default=None, help="the payload as JSON")
@click.option("--payload-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
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
    import worker
    from worker.errors import InvalidPayload

    if notify_queue and not notify_task:
        fail("invalid_payload: --notify-queue: needs --notify-task")
    notify = {k: v for k, v in {"task": notify_task, "queue": notify_queue, "url": notify_url}.items() if v} or None

    if (payload_text is None) == (payload_file is None):
        fail("give exactly one of --payload and --payload-file")
    text = payload_text if payload_text is not None else payload_file.read_text()  # type: ignore[union-attr]
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
            job = worker.enqueue(kind, provider, payload, account=account, idempotency_key=idempotency_key, notify=notify)
    except InvalidPayload as exc:
        if as_json:  # every problem, for a program to read; the one-line reason still goes to stderr
            click.echo(json.dumps({"error": exc.to_dict()}))
        raise
    if as_json:
        click.echo(json.dumps(job.to_dict()))
    else:
        click.echo(job.id)
