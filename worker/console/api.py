"""``/api/…``: the console's JSON (CONTRACT.md, "The console"). The shapes are the CLI's: a job as
``jobs show --json`` prints it, lists as ``jobs list --json``, providers as ``providers --json``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from worker.admin import Admin
from worker.console import actions, views
from worker.console.auth import FormTokens
from worker.queries import get_job, list_jobs, resolve_job_id
from worker.runtime import Runtime

MAX_LIMIT = 500


def routes(runtime: Runtime, tokens: FormTokens) -> list[Route]:
    async def jobs(request: Request) -> JSONResponse:
        found = list_jobs(runtime=runtime, **search_filters(request.query_params))
        return JSONResponse([job.to_dict() for job in found])

    async def job(request: Request) -> JSONResponse:
        return JSONResponse(get_job(resolve_job_id(request.path_params["job_id"], runtime=runtime), runtime=runtime).to_dict())

    async def story(request: Request) -> JSONResponse:
        return JSONResponse(views.story(runtime, resolve_job_id(request.path_params["job_id"], runtime=runtime)).to_dict())

    async def act(request: Request) -> JSONResponse:
        values = await actions.arguments(request, tokens)
        job_id = resolve_job_id(request.path_params["job_id"], runtime=runtime)
        actions.act(runtime, actions.user_of(request), job_id, request.path_params["action"], force=actions.flag(values.get("force")))
        return JSONResponse(get_job(job_id, runtime=runtime).to_dict())

    async def retry_failed(request: Request) -> JSONResponse:
        values = await actions.arguments(request, tokens)
        dry_run = actions.flag(values.get("dry_run"))
        ids = actions.retry_failed(runtime, actions.user_of(request), values, dry_run=dry_run)
        return JSONResponse({"count": len(ids), "job_ids": ids, "dry_run": dry_run})

    async def providers(request: Request) -> JSONResponse:
        return JSONResponse(views.providers(runtime))

    async def pause(request: Request) -> JSONResponse:
        values = await actions.arguments(request, tokens)
        name, account = request.path_params["provider"], str(values.get("account") or "default")
        reason = str(values["reason"]) if values.get("reason") else None
        actor = actions.user_of(request).actor
        Admin(runtime).pause(name, account, seconds=actions.seconds(values.get("seconds")), reason=reason, actor=actor)
        return JSONResponse(views.provider(runtime, name, account))

    async def resume(request: Request) -> JSONResponse:
        values = await actions.arguments(request, tokens)
        name, account = request.path_params["provider"], str(values.get("account") or "default")
        Admin(runtime).resume(name, account, actor=actions.user_of(request).actor)
        return JSONResponse(views.provider(runtime, name, account))

    return [
        Route("/api/jobs", jobs),
        Route("/api/jobs/retry-failed", retry_failed, methods=["POST"]),
        Route("/api/jobs/{job_id}", job),
        Route("/api/jobs/{job_id}/story", story),
        Route("/api/jobs/{job_id}/{action:str}", act, methods=["POST"]),
        Route("/api/providers", providers),
        Route("/api/providers/{provider}/pause", pause, methods=["POST"]),
        Route("/api/providers/{provider}/resume", resume, methods=["POST"]),
    ]


def search_filters(params: Any) -> dict[str, Any]:
    """``q``, ``state``, ``provider``, ``kind``, ``account``, ``limit`` and ``offset`` of a query string."""
    try:
        limit = min(MAX_LIMIT, max(1, int(params.get("limit") or 50)))
        offset = max(0, int(params.get("offset") or 0))
    except ValueError:
        raise actions.BadRequest("limit and offset are whole numbers") from None
    state = params.get("state") or None
    from worker.states import JobState

    if state is not None and state not in {s.value for s in JobState}:
        raise actions.BadRequest(f"state: {state!r} is not one of {', '.join(s.value for s in JobState)}")
    return {
        "q": params.get("q") or None,
        "state": state,
        "provider": params.get("provider") or None,
        "kind": params.get("kind") or None,
        "account": params.get("account") or None,
        "limit": limit,
        "offset": offset,
    }
