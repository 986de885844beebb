"""``printrelay.admin.*``: the operator's actions as Celery tasks (Flower's API, any Celery client).

Each records who triggered it: ``actor`` if given, else "task" and the sending process.
"""

from __future__ import annotations

from typing import Any

from celery import Task

from worker.admin import Admin
from worker.app import app
from worker.runtime import get_runtime


def _actor(task: Task, actor: str | None) -> str:  # type: ignore[type-arg]
    return actor or f"task from {task.request.origin or 'unknown sender'}"


@app.task(name="printrelay.admin.retry_job", bind=True)
def retry_job(self: Task, job_id: str, actor: str | None = None) -> dict[str, str]:  # type: ignore[type-arg]
    return Admin(get_runtime()).retry(job_id, actor=_actor(self, actor)).to_dict()


@app.task(name="printrelay.admin.replay_job", bind=True)
def replay_job(self: Task, job_id: str, force: bool = False, actor: str | None = None) -> dict[str, str]:  # type: ignore[type-arg]
    return Admin(get_runtime()).replay(job_id, actor=_actor(self, actor), force=force).to_dict()


@app.task(name="printrelay.admin.cancel_job", bind=True)
def cancel_job(self: Task, job_id: str, actor: str | None = None) -> dict[str, str]:  # type: ignore[type-arg]
    return Admin(get_runtime()).cancel(job_id, actor=_actor(self, actor)).to_dict()


@app.task(name="printrelay.admin.retry_failed", bind=True)
def retry_failed(
    self: Task,  # type: ignore[type-arg]
    provider: str | None = None,
    kind: str | None = None,
    error_code: str | None = None,
    since: str | None = None,
    dry_run: bool = False,
    actor: str | None = None,
    account: str | None = None,
) -> dict[str, Any]:
    ids = Admin(get_runtime()).retry_failed(
        actor=_actor(self, actor), provider=provider, kind=kind, error_code=error_code, since=since, account=account, dry_run=dry_run
    )
    return {"count": len(ids), "job_ids": ids, "dry_run": dry_run}


@app.task(name="printrelay.admin.refresh_catalogue", bind=True)
def refresh_catalogue(self: Task, provider: str = "printeers", account: str = "default") -> dict[str, Any]:  # type: ignore[type-arg]
    """Fetch a provider's catalogue now for one account (as ``printrelay catalogue refresh``)."""
    from worker import catalogue

    return catalogue.refresh(get_runtime(), provider, account).to_dict()


@app.task(name="printrelay.admin.pause_provider", bind=True)
def pause_provider(
    self: Task,  # type: ignore[type-arg]
    provider: str,
    account: str = "default",
    seconds: float | None = None,
    reason: str | None = None,
    actor: str | None = None,
) -> dict[str, Any]:
    """Hold a provider account's jobs (CONTRACT.md, "Providers"), as ``printrelay providers pause``."""
    return Admin(get_runtime()).pause(provider, account, seconds=seconds, reason=reason, actor=_actor(self, actor))


@app.task(name="printrelay.admin.resume_provider", bind=True)
def resume_provider(self: Task, provider: str, account: str = "default", actor: str | None = None) -> dict[str, Any]:  # type: ignore[type-arg]
    """End a pause; the held jobs go on, spaced by the provider's rate limits."""
    return Admin(get_runtime()).resume(provider, account, actor=_actor(self, actor))
