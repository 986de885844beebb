"""The console's Starlette application: authentication first, then the pages and the JSON API.

Errors are printrelay's own, mapped to statuses: an unknown job 404, an action its state forbids
409, a viewer's action 403, a bad argument 400, an unreachable database 503 — as
``{"error": {"code", "message"}}`` under ``/api/`` and as a page elsewhere.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from worker.console import api, pages
from worker.console.auth import Credentials, FormTokens
from worker.errors import PrintrelayError
from worker.runtime import Runtime

STATUS = {
    "job_not_found": 404,
    "ambiguous_job_id": 404,
    "unknown_provider": 404,
    "not_allowed": 409,
    "forbidden": 403,
    "database_unavailable": 503,
}


class RequireUser(BaseHTTPMiddleware):
    """Every request names its user (HTTP basic auth), or is answered 401 with a challenge."""

    def __init__(self, app: object, credentials: Credentials) -> None:
        super().__init__(app)  # type: ignore[arg-type]
        self.credentials = credentials

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        user = self.credentials.check(request.headers.get("authorization"))
        if user is None:
            return PlainTextResponse(
                "printrelay console: sign in with PRINTRELAY_CONSOLE__BASIC_AUTH (or the viewer login)",
                status_code=401,
                headers={"WWW-Authenticate": 'Basic realm="printrelay console", charset="UTF-8"'},
            )
        request.state.user = user
        response = await call_next(request)
        response.headers.setdefault("X-Frame-Options", "DENY")  # no clickjacking of the action buttons
        response.headers.setdefault("Cache-Control", "no-store")
        return response


def create_app(runtime: Runtime, credentials: Credentials, tokens: FormTokens | None = None) -> Starlette:
    tokens = tokens or FormTokens()

    async def printrelay_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PrintrelayError)
        status = STATUS.get(exc.code, 400)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": {"code": exc.code, "message": exc.message}}, status_code=status)
        return pages.error_page(request, status, exc.code, exc.message)

    static = Mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")
    return Starlette(
        routes=[*api.routes(runtime, tokens), *pages.routes(runtime, tokens), static],
        middleware=[Middleware(RequireUser, credentials=credentials)],
        exception_handlers={PrintrelayError: printrelay_error},
    )
