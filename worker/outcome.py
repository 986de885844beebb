"""The one value an adapter hands back for one attempt.

An adapter never raises for a provider's answer: every response, odd or not, becomes an
:class:`Outcome`. The runner turns it into an attempts row and the job's next state.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from worker.states import OutcomeKind


@dataclass(frozen=True)
class StoredFile:
    """A file an adapter stored under the artifact directory, checked and hashed."""

    path: str
    sha256: str
    size: int

    @classmethod
    def of(cls, stored: dict[str, Any]) -> StoredFile:
        """From :func:`worker.artifacts.download`'s ``{"path", "sha256", "size"}``."""
        return cls(str(stored["path"]), str(stored["sha256"]), int(stored["size"]))


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    result: dict[str, Any] | None = None
    error_code: str | None = None
    error_message: str | None = None
    http_status: int | None = None
    #: Seconds the provider asked us to wait (Retry-After, rate-limit reset); never waited less.
    retry_after: float | None = None
    #: What was sent, for the attempt record: ``"POST /v2/orders"``. Never headers or bodies.
    request: str | None = None
    #: A line for the operator (``"reused the reference of an identical upload"``).
    note: str | None = None
    #: A ``done`` that means "nothing to do": the job ends ``skipped`` with this as the reason.
    skipped: bool = False
    #: A file the attempt stored (a print-ready ZIP): the runner records it in ``artifacts``.
    artifact: StoredFile | None = None

    def with_request(self, request: str) -> Outcome:
        return replace(self, request=self.request or request)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (the outcome journal keeps outcomes in Redis this way)."""
        data = asdict(self)
        data["kind"] = self.kind.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Outcome:
        """The inverse of :meth:`to_dict`.

        >>> Outcome.from_dict(Outcome.done({"order_reference": "Order_x"}).to_dict()).result
        {'order_reference': 'Order_x'}
        """
        values = dict(data)
        values["kind"] = OutcomeKind(values["kind"])
        if values.get("artifact") is not None:
            values["artifact"] = StoredFile.of(values["artifact"])
        return cls(**values)

    # Constructors that read like the DESIGN's vocabulary.
    @classmethod
    def done(
        cls,
        result: dict[str, Any] | None = None,
        *,
        http_status: int | None = None,
        note: str | None = None,
        artifact: StoredFile | None = None,
    ) -> Outcome:
        return cls(OutcomeKind.DONE, result=result or {}, http_status=http_status, note=note, artifact=artifact)

    @classmethod
    def skip(cls, reason: str) -> Outcome:
        return cls(OutcomeKind.DONE, result={"skipped": reason}, note=reason, skipped=True)

    @classmethod
    def permanent(cls, code: str, message: str, *, http_status: int | None = None) -> Outcome:
        return cls(OutcomeKind.PERMANENT, error_code=code, error_message=message, http_status=http_status)

    @classmethod
    def transient(cls, code: str, message: str, *, http_status: int | None = None, retry_after: float | None = None) -> Outcome:
        return cls(OutcomeKind.TRANSIENT, error_code=code, error_message=message, http_status=http_status, retry_after=retry_after)

    @classmethod
    def throttled(cls, message: str, *, http_status: int | None = 429, retry_after: float | None = None) -> Outcome:
        return cls(OutcomeKind.THROTTLED, error_code="throttled", error_message=message, http_status=http_status, retry_after=retry_after)

    @classmethod
    def pending(cls, message: str, *, http_status: int | None = None, retry_after: float | None = None) -> Outcome:
        return cls(OutcomeKind.PENDING, error_message=message, http_status=http_status, retry_after=retry_after)

    @classmethod
    def ambiguous(cls, code: str, message: str, *, http_status: int | None = None) -> Outcome:
        return cls(OutcomeKind.AMBIGUOUS, error_code=code, error_message=message, http_status=http_status)
