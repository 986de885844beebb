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
    """The payload breaks a rule; nothing was stored or queued. ``field`` is a dotted path."""

    code = "invalid_payload"

    def __init__(self, field: str, rule: str, *, code: str | None = None) -> None:
        super().__init__(f"{field}: {rule}" if field else rule, code=code)
        self.field = field
        self.rule = rule


class UnsupportedKind(PrintrelayError):
    code = "unsupported_kind"


class UnknownProvider(PrintrelayError):
    code = "unknown_provider"


class UnknownAccount(PrintrelayError):
    code = "unknown_account"


class JobNotFound(PrintrelayError):
    code = "job_not_found"


class NotConfigured(PrintrelayError):
    """A setting the call needs (a base URL, a key) is missing."""

    code = "not_configured"
