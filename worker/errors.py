"""Errors a producer or operator sees. Each carries a contract error ``code`` and names the field."""

from __future__ import annotations


class PrintrelayError(Exception):
    """Base class: ``code`` is one of CONTRACT.md's error codes, ``str()`` is a one-line reason."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0])


class InvalidPayload(PrintrelayError):
    """The payload breaks a rule; nothing was stored or queued. ``field`` is a dotted path.

    ``problems`` lists every rule broken, the first being ``field``/``rule``; the one-line
    message names the first few (:data:`SHOWN_PROBLEMS`), ``problems`` has them all::

        >>> e = InvalidPayload("order.storeReference", "Field required", more=[("order.orderlines", "Field required")])
        >>> str(e)
        'order.storeReference: Field required; order.orderlines: Field required'
        >>> e.problems[1]
        {'field': 'order.orderlines', 'rule': 'Field required'}
    """

    code = "invalid_payload"

    def __init__(self, field: str, rule: str, *, code: str | None = None, more: list[tuple[str, str]] | None = None) -> None:
        problems = [(field, rule), *(more or [])]
        shown = "; ".join(f"{f}: {r}" if f else r for f, r in problems[:SHOWN_PROBLEMS])
        if len(problems) > SHOWN_PROBLEMS:
            rest = len(problems) - SHOWN_PROBLEMS
            shown += f" (and {rest} more problem{'s' if rest > 1 else ''}: see problems, or --json)"
        super().__init__(shown, code=code)
        self.field = field
        self.rule = rule
        self.problems: list[dict[str, str]] = [{"field": f, "rule": r} for f, r in problems]

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, "problems": self.problems}

    def at(self, where: str) -> InvalidPayload:
        """The same refusal, its fields under ``where`` (``payloads[3]``: which of a batch).

        >>> str(InvalidPayload("order.storeReference", "Field required").at("payloads[3]"))
        'payloads[3].order.storeReference: Field required'
        """
        moved = [(f"{where}.{p['field']}" if p["field"] not in ("", "payload") else where, p["rule"]) for p in self.problems]
        return InvalidPayload(*moved[0], code=self.code if self.code != InvalidPayload.code else None, more=moved[1:])


#: How many problems a refusal's one-line message names (``InvalidPayload.problems`` has all).
SHOWN_PROBLEMS = 3


class UnsupportedKind(PrintrelayError):
    code = "unsupported_kind"


class UnknownProvider(PrintrelayError):
    code = "unknown_provider"


class UnknownAccount(PrintrelayError):
    code = "unknown_account"


class JobNotFound(PrintrelayError):
    code = "job_not_found"


class AmbiguousJobId(PrintrelayError):
    """A job id prefix that more than one job starts with; the message names them."""

    code = "ambiguous_job_id"


class NotConfigured(PrintrelayError):
    """A setting the call needs (a base URL, a key) is missing."""

    code = "not_configured"


class DatabaseMissing(PrintrelayError):
    """The configured SQLite database does not exist; the message says where it was looked for."""

    code = "no_database"


class DatabaseUnavailable(PrintrelayError):
    """The job store could not be reached: nothing was recorded, the caller may try again."""

    code = "database_unavailable"
