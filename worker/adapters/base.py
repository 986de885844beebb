"""What an adapter is: one provider, payload in, requests out, responses in, one Outcome out.

An adapter knows nothing of Celery or the database. What it needs from the rest of printrelay
comes in a :class:`Call`: the payload (dependencies already resolved), the account's settings,
an HTTP client, and a :class:`Memo` for facts worth remembering between jobs.

Payload rules live in pydantic models, one per kind (``payloads``), checked at enqueue so that
a bad payload is refused before anything is stored. A rule that is a provider's own error (a
Printeers ``missing_address``) raises ``PydanticCustomError`` with that code as its type and
lists the code in ``error_codes``; the producer then sees the provider's code, not a generic one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

import httpx
from pydantic import BaseModel, ValidationError

from config.provider_settings import ProviderSettings
from worker.errors import InvalidPayload, NotConfigured
from worker.outcome import Outcome


class Memo(Protocol):
    """Per (provider, account) facts that outlive a job, e.g. image hash -> image reference."""

    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(self, key: str, value: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class Call:
    """Everything one attempt of one job may use."""

    kind: str
    payload: dict[str, Any]
    account: str
    settings: ProviderSettings
    client: httpx.Client
    memo: Memo
    job_id: str
    idempotency_key: str | None = None
    #: A previous attempt may have reached the provider: find out what it did before acting.
    reconcile: bool = False
    artifact_dir: Path = Path("./var/artifacts")


#: A payload value that stands for another job's result until the job runs (CONTRACT.md).
PLACEHOLDER_KEYS = ("$job", "$image")
#: Kinds that change a provider's order: the ones that must not overtake each other.
CHANGING_KINDS = frozenset({"submit_order", "update_order", "cancel_order", "update_status"})
#: What a placeholder looks like to the payload rules; reference types accept it.
STAND_IN = "<placeholder>"


class Adapter:
    """Base class of the five adapters. Subclasses define the class data and one method per kind."""

    name: ClassVar[str]
    payloads: ClassVar[Mapping[str, type[BaseModel]]]
    #: printrelay's own (the webhook of notifications): producers cannot enqueue its jobs.
    internal: ClassVar[bool] = False
    #: Kinds that may simply be repeated after a crash or a lost answer.
    idempotent: ClassVar[frozenset[str]] = frozenset()
    #: Non-idempotent kinds whose ambiguous attempts the adapter can reconcile (``Call.reconcile``).
    reconcilable: ClassVar[frozenset[str]] = frozenset()
    #: Provider error codes that enqueue-time rules raise (see the module docstring).
    error_codes: ClassVar[frozenset[str]] = frozenset()
    #: A job of the key kind makes jobs of these kinds on the same sequence key unnecessary (a
    #: delete makes updates moot): those not started when it is enqueued end ``skipped`` at
    #: once (it must not wait behind them, nor race them); those enqueued after it wait for it
    #: and end ``skipped`` if it succeeds.
    supersedes: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    #: Rate-limit buckets each kind's calls count against (besides ``default``).
    extra_buckets: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    #: The provider has a catalogue worth a local copy (:meth:`fetch_catalogue`,
    #: :mod:`worker.catalogue`) that enqueue-time rules consult.
    has_catalogue: ClassVar[bool] = False

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(self.payloads)

    def buckets(self, kind: str) -> tuple[str, ...]:
        return ("default", *self.extra_buckets.get(kind, ()))

    def validate(self, kind: str, payload: Any, settings: ProviderSettings, memo: Memo | None = None) -> dict[str, Any]:
        """Check ``payload`` against the kind's rules and return it normalised for storage.

        ``memo`` is the account's memo, for rules that consult a local copy of the provider's
        data (a catalogue); enqueue never calls the provider. Raises
        :class:`~worker.errors.InvalidPayload` naming the first field at fault.
        """
        if not isinstance(payload, dict):
            raise InvalidPayload("payload", "must be a JSON object")
        model = self.payloads[kind]
        try:
            model.model_validate(stand_in_placeholders(payload), context=self.rule_context(kind, settings, memo))
        except ValidationError as exc:
            raise self._invalid(exc) from None
        return self.normalize(kind, payload)

    def rule_context(self, kind: str, settings: ProviderSettings, memo: Memo | None) -> dict[str, Any]:
        """What the payload models' validators see as ``info.context``: the settings, plus
        whatever a provider's rules consult (read from ``memo``, never from the network)."""
        return {"settings": settings}

    def fetch_catalogue(self, call: Call) -> Outcome:
        """The provider's catalogue as ``Outcome.done({"products": {reference: {...}}})``;
        only for adapters with ``has_catalogue``."""
        raise NotImplementedError(f"{self.name} has no catalogue")

    def policy_defaults(self, kind: str, settings: ProviderSettings) -> Mapping[str, float] | None:
        """Waiting-policy values this provider needs for ``kind`` (over the kind's built-in
        policy; ``PRINTRELAY_RETRY__<KIND>__…`` still overrides both)."""
        return None

    def sequence_key(self, kind: str, payload: dict[str, Any]) -> str | None:
        """The provider order a job acts on: jobs with the same key run in enqueue order (an
        update never overtakes the submit it updates). By default the order identifier the
        payload names; a submit whose order id the provider assigns has none. Only kinds that
        change the order are sequenced: reads and polls need no order among themselves."""
        if kind not in CHANGING_KINDS:
            return None
        for name in ("order_reference", "order_uid", "order_id"):
            if isinstance(payload.get(name), str | int) and not isinstance(payload.get(name), bool):
                return f"{name}:{payload[name]}"
        return None

    def normalize(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Hook: make a valid payload fit to store (e.g. a local path made absolute)."""
        return payload

    def perform(self, call: Call) -> Outcome:
        """Run one attempt of ``call.kind``; never raises for anything the provider does."""
        method: Callable[[Call], Outcome] = getattr(self, call.kind)
        return method(call)

    def _invalid(self, exc: ValidationError) -> InvalidPayload:
        errors = exc.errors(include_url=False, include_input=False)
        problems = [(field_path(e["loc"]), e["msg"].removeprefix("Value error, ")) for e in errors]
        first = errors[0]
        code = first["type"] if first["type"] in self.error_codes else None
        return InvalidPayload(*problems[0], code=code, more=problems[1:])


def require(value: Any, setting: str) -> Any:
    """A setting the call cannot do without; missing, it fails the job as ``not_configured``."""
    if value is None or value == "":
        raise NotConfigured(f"{setting} is not set")
    return value


def field_path(loc: tuple[Any, ...]) -> str:
    """``("order", "orderlines", 0, "quantity")`` -> ``order.orderlines[0].quantity``."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "payload"


def stand_in_placeholders(value: Any) -> Any:
    """A copy of ``value`` with ``{"$job": …}``/``{"$image": …}`` replaced by a stand-in string,
    so the payload rules can be checked before the referenced job has a result."""
    if isinstance(value, dict):
        if any(key in value for key in PLACEHOLDER_KEYS):
            return STAND_IN
        return {k: stand_in_placeholders(v) for k, v in value.items()}
    if isinstance(value, list):
        return [stand_in_placeholders(v) for v in value]
    return value
