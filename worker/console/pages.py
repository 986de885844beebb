"""The console's pages: search, a job's story, providers — server-rendered, forms for actions.

A form posts to the page's own address plus the action (``/jobs/{id}/retry``) with the page's
token, and is answered with a redirect back (Post/Redirect/Get), so a reload never repeats it.
A refused action (409: the state forbids it; a replay that would place a second order without
its confirmation) shows the page again with the reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from worker.adapters.registry import print_providers
from worker.admin import Admin, NotAllowed
from worker.console import actions, views
from worker.console.api import search_filters
from worker.console.auth import FormTokens
from worker.queries import list_jobs, resolve_job_id
from worker.runtime import Runtime
from worker.states import JOB_KINDS, JobState

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
#: JSON as it was sent (keys in their order, "•••" as itself); the page escapes it like any text.
TEMPLATES.env.filters["pretty"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False)


def routes(runtime: Runtime, tokens: FormTokens) -> list[Route]:
    def render(request: Request, template: str, status: int = 200, **context: Any) -> Response:
        user = actions.user_of(request)
        context.update(user=user, token=tokens.token(user), done=request.query_params.get("done"))
        return TEMPLATES.TemplateResponse(request, template, context, status_code=status)

    async def search(request: Request) -> Response:
        filters = search_filters(request.query_params)
        found = list_jobs(runtime=runtime, **filters)
        shown = {k: v for k, v in filters.items() if v and k not in ("limit", "offset")}
        page = {"limit": filters["limit"], "offset": filters["offset"], "more": len(found) == filters["limit"]}
        return render(
            request,
            "search.html",
            jobs=found,
            filters=shown,
            page=page,
            states=[s.value for s in JobState],
            kinds=JOB_KINDS,
            providers=print_providers(),
            query=lambda **changes: urlencode({**shown, "limit": filters["limit"], **changes}),
        )

    async def job(request: Request) -> Response:
        job_id = resolve_job_id(request.path_params["job_id"], runtime=runtime)
        return render(request, "job.html", story=views.story(runtime, job_id), states=JobState)

    async def act(request: Request) -> Response:
        values = await actions.arguments(request, tokens)
        job_id = resolve_job_id(request.path_params["job_id"], runtime=runtime)
        action = request.path_params["action"]
        try:
            actions.act(runtime, actions.user_of(request), job_id, action, force=actions.flag(values.get("force")))
        except NotAllowed as refused:
            return render(request, "job.html", 409, story=views.story(runtime, job_id), states=JobState, refused=refused.message)
        return RedirectResponse(f"/jobs/{job_id}?done={action}", status_code=303)

    async def retry_failed(request: Request) -> Response:
        values = await actions.arguments(request, tokens)
        user = actions.user_of(request)
        if not actions.flag(values.get("confirm")):  # the count first
            ids = actions.retry_failed(runtime, user, values, dry_run=True)
            filters = {k: values.get(k) for k in ("provider", "kind", "account", "error_code", "since") if values.get(k)}
            return render(request, "confirm.html", count=len(ids), filters=filters)
        retried = actions.retry_failed(runtime, user, values, dry_run=False)
        return RedirectResponse(f"/?state=failed&done=retried+{len(retried)}+failed+jobs", status_code=303)

    async def providers(request: Request) -> Response:
        return render(request, "providers.html", providers=views.providers(runtime))

    async def pause(request: Request) -> Response:
        values = await actions.arguments(request, tokens)
        name, account = request.path_params["provider"], values.get("account") or "default"
        seconds = actions.seconds(values.get("seconds"))
        Admin(runtime).pause(name, account, seconds=seconds, reason=values.get("reason") or None, actor=actions.user_of(request).actor)
        return RedirectResponse(f"/providers?done=paused+{name}/{account}", status_code=303)

    async def resume(request: Request) -> Response:
        values = await actions.arguments(request, tokens)
        name, account = request.path_params["provider"], values.get("account") or "default"
        Admin(runtime).resume(name, account, actor=actions.user_of(request).actor)
        return RedirectResponse(f"/providers?done=resumed+{name}/{account}", status_code=303)

    return [
        Route("/", search),
        Route("/retry-failed", retry_failed, methods=["POST"]),
        Route("/jobs/{job_id}", job),
        Route("/jobs/{job_id}/{action:str}", act, methods=["POST"]),
        Route("/providers", providers),
        Route("/providers/{provider}/pause", pause, methods=["POST"]),
        Route("/providers/{provider}/resume", resume, methods=["POST"]),
    ]


def error_page(request: Request, status: int, code: str, message: str) -> Response:
    user = getattr(request.state, "user", None)
    return TEMPLATES.TemplateResponse(
        request, "error.html", {"status": status, "code": code, "message": message, "user": user, "token": ""}, status_code=status
    )
