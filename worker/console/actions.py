"""What a request may do, and doing it: the one path every console action takes.

An action needs a user who may act (a viewer gets 403) and a request another site cannot forge
(:mod:`worker.console.auth`): a JSON body, or a form carrying the page's token. It then goes
through :class:`worker.admin.Admin`, exactly as the CLI and the admin tasks do, recorded with the
console user as its actor.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from worker.admin import Admin, Done
from worker.console.auth import FormTokens, User
from worker.errors import PrintrelayError
from worker.runtime import Runtime

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class Forbidden(PrintrelayError):
    code = "forbidden"


class BadRequest(PrintrelayError):
    code = "invalid_argument"


def user_of(request: Request) -> User:
    user: User = request.state.user
    return user


async def arguments(request: Request, tokens: FormTokens) -> dict[str, Any]:
    """The action's arguments, once the request is known to be allowed to act."""
    user = user_of(request)
    if not user.may_act:
        raise Forbidden(f"{user.name} may only read; actions need the operator's login (PRINTRELAY_CONSOLE__BASIC_AUTH)")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        raw = await request.body()
        try:
            data = json.loads(raw) if raw.strip() else {}
        except ValueError:
            raise BadRequest("the body is not JSON") from None
        if not isinstance(data, dict):
            raise BadRequest("the body must be a JSON object")
        return data
    if content_type in FORM_TYPES:
        form = await request.form()
        values = {key: value for key, value in form.items() if isinstance(value, str)}
        if not tokens.valid(user, values.pop("token", None)):
            raise Forbidden("this form is stale or not the console's own: reload the page and try again")
        return values
    raise Forbidden("an action takes a JSON body (Content-Type: application/json) or the console's form token")


def act(runtime: Runtime, user: User, job_id: str, action: str, *, force: bool = False) -> Done:
    admin = Admin(runtime)
    if action == "retry":
        return admin.retry(job_id, actor=user.actor)
    if action == "replay":
        return admin.replay(job_id, actor=user.actor, force=force)
    if action == "cancel":
        return admin.cancel(job_id, actor=user.actor)
    raise BadRequest(f"no action {action!r} (retry, replay, cancel)")


def retry_failed(runtime: Runtime, user: User, values: dict[str, Any], *, dry_run: bool) -> list[str]:
    filters = {name: (values.get(name) or None) for name in ("provider", "kind", "error_code", "since", "account")}
    return Admin(runtime).retry_failed(actor=user.actor, dry_run=dry_run, **filters)


def flag(value: Any) -> bool:
    """A JSON boolean, or a form's checkbox (``on``, ``true``, ``1``)."""
    return value is True or (isinstance(value, str) and value.lower() in ("on", "true", "1", "yes"))


def seconds(value: Any) -> float | None:
    """A pause's length: a number of seconds, or a duration like ``30m`` (empty: until resumed)."""
    from worker.admin import parse_duration

    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        return parse_duration(value, "seconds").total_seconds()
    raise BadRequest("seconds: a number of seconds or a duration like 30m")
