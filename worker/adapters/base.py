"""What an adapter is: one provider, payload in, requests out, responses in, one Outcome out.

An adapter knows nothing of Celery or the database. What it needs from the rest of printrelay
comes in a :class:`Call`: the payload (dependencies already resolved), the account's settings,
an HTTP client, and a :class:`Memo` for facts worth remembering between jobs.

Payload rules live in pydantic models, one per kind (``payloads``), checked at enqueue so that
a bad payload is refused before anything is stored. A rule that is a provider's own error (a
Printeers ``missing_address``) raises ``PydanticCustomError`` with that code as its type and
lists the code in ``error_codes``; the producer then sees the provider's code, not a generic one.

Talking to the provider goes through one exchange, :meth:`Adapter.exchange`: send, classify
what every provider means alike (network failures, 429, 5xx), then the provider's own error map
(:meth:`Adapter.refusal`). The helpers raise :class:`Failed` carrying the attempt's Outcome, and
:meth:`Adapter.perform` turns it into the result, so a kind's method reads as its happy path.
Credentials are an ``httpx.Auth`` (:meth:`Adapter.auth`, :mod:`worker.adapters.auth`) attached
to the client; an adapter is generic over its settings model, so ``call.settings`` is typed.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from config.provider_settings import ProviderSettings
from worker.errors import InvalidPayload, NotConfigured
from worker.http import classify_status, describe, error_message, json_body, send, unreadable
from worker.outcome import Outcome
from worker.waiting.policy import Policy, policy_for

if TYPE_CHECKING:
    from config.settings import SettingsBase

S = TypeVar("S", bound=ProviderSettings)
T = TypeVar("T")


class Failed(Exception):
    """The attempt ends here with ``outcome`` (raised by the exchange helpers and auth flows,
    turned into the attempt's result by :meth:`Adapter.perform`; never seen outside it)."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.error_code or outcome.kind.value)
        self.outcome = outcome


def unwrap(value: T | Outcome) -> T:
    """A helper's value, or :class:`Failed` with the Outcome it returned instead."""
    if isinstance(value, Outcome):
        raise Failed(value)
    return value


def document(response: httpx.Response, *, idempotent: bool, expected: str, inside: str | None = None) -> dict[str, Any]:
    """The JSON object in ``response`` (or in its ``inside`` wrapper, ``{"order": {…}}``);
    :class:`Failed` with an "unreadable" Outcome when there is none (an HTML page, a cut body)."""
    body = json_body(response)
    if inside is not None:
        body = body.get(inside) if isinstance(body, dict) else None
    if not isinstance(body, dict):
        raise Failed(unreadable(response, idempotent=idempotent, expected=expected))
    return body


class Memo(Protocol):
    """Per (provider, account) facts that outlive a job, e.g. image hash -> image reference."""

    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(self, key: str, value: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class Call(Generic[S]):
    """Everything one attempt of one job may use."""

    kind: str
    payload: dict[str, Any]
    account: str
    settings: S
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


class Adapter(Generic[S]):
    """Base class of the adapters. Subclasses define the class data and one method per kind,
    ``def submit_order(self, call: Call[TheirSettings]) -> Outcome``."""

    name: ClassVar[str]
    payloads: ClassVar[Mapping[str, type[BaseModel]]]
    #: printrelay's own (the webhook of notifications): producers cannot enqueue its jobs.
    internal: ClassVar[bool] = False
    #: Kinds that may simply be repeated after a crash or a lost answer.
    idempotent: ClassVar[frozenset[str]] = frozenset()
    #: Kinds that create something at the provider: replaying a succeeded one creates it again,
    #: so an operator's replay needs ``force`` (``printrelay jobs replay --force``).
    creates: ClassVar[frozenset[str]] = frozenset({"submit_order"})
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
    #: Payload fields that are references a person quotes — the producer's own order ids, the
    #: provider's ids a path needs — as paths (:mod:`worker.payload_paths`). ``printrelay jobs
    #: find`` and the console's search match them (:mod:`worker.references`).
    payload_references: ClassVar[tuple[str, ...]] = ("order_reference", "order_uid", "order_id")
    #: Result fields that are the provider's references (``Order_…``, an order uid, an image).
    result_references: ClassVar[tuple[str, ...]] = ("order_reference", "order_uid", "order_id", "image_reference")
    #: Payload fields that hold customer data (names, addresses, e-mails, phone numbers): masked
    #: in the console and scrubbed from jobs finished long ago (:mod:`worker.privacy`).
    customer_data: ClassVar[tuple[str, ...]] = ()
    #: Payload fields that are secrets of some kind (a design's access token): masked in the console.
    secret_fields: ClassVar[tuple[str, ...]] = ()

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(self.payloads)

    def buckets(self, kind: str) -> tuple[str, ...]:
        return ("default", *self.extra_buckets.get(kind, ()))

    def validate(self, kind: str, payload: Any, settings: S, memo: Memo | None = None) -> dict[str, Any]:
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

    def rule_context(self, kind: str, settings: S, memo: Memo | None) -> dict[str, Any]:
        """What the payload models' validators see as ``info.context``: the settings, plus
        whatever a provider's rules consult (read from ``memo``, never from the network)."""
        return {"settings": settings}

    def fetch_catalogue(self, call: Call[S]) -> Outcome:
        """The provider's catalogue as ``Outcome.done({"products": {reference: {...}}})``;
        only for adapters with ``has_catalogue``."""
        raise NotImplementedError(f"{self.name} has no catalogue")

    def policy(self, kind: str, settings: SettingsBase) -> Policy:
        """How a job of ``kind`` waits: the kind's built-in policy, this provider's defaults
        (:meth:`policy_defaults`), then ``PRINTRELAY_RETRY__<KIND>__…``. The one place a job's
        policy is assembled (intake sets the deadline, the runner decides, admin re-arms)."""
        return policy_for(kind, settings, self.policy_defaults(kind, settings.provider(self.name)))  # type: ignore[arg-type]

    def policy_defaults(self, kind: str, settings: S) -> Mapping[str, float] | None:
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

    #: 4xx status -> error code, where the provider's body carries no code of its own.
    status_codes: ClassVar[Mapping[int, str]] = {401: "unauthorized"}

    def perform(self, call: Call[S]) -> Outcome:
        """Run one attempt of ``call.kind``; never raises for anything the provider does."""
        method: Callable[[Call[S]], Outcome] = getattr(self, call.kind)
        try:
            return method(call)
        except Failed as failed:
            return failed.outcome

    def auth(self, settings: S, remember: Callable[[str], None]) -> httpx.Auth | None:
        """How this provider authenticates, for a client of ``settings``' account; ``remember``
        takes secrets obtained at run time (tokens) for the redactor."""
        return None

    def client(self, settings: S, remember: Callable[[str], None] = lambda secret: None, **options: Any) -> httpx.Client:
        """A client for one account, with the provider's authentication attached."""
        return httpx.Client(auth=self.auth(settings, remember), **options)

    def exchange(
        self, call: Call[S], method: str, path: str, *, idempotent: bool, accept: Collection[int] = (), **options: Any
    ) -> httpx.Response:
        """Send one request to ``path`` (under the base URL, or an absolute URL) and return the
        response if it is a success or its status is in ``accept``; else :class:`Failed` with
        the Outcome: a network failure, a status every provider means alike, or the provider's
        refusal (:meth:`refusal`)."""
        url = path if path.startswith(("http://", "https://")) else call.settings.base_url.rstrip("/") + path
        headers = {"Accept": "application/json", **options.pop("headers", {})}
        request = call.client.build_request(method, url, headers=headers, **options)
        response = unwrap(send(call.client, request, idempotent=idempotent))
        if response.is_success or response.status_code in accept:
            return response
        raise Failed(self.outcome_of(response, idempotent=idempotent))

    def outcome_of(self, response: httpx.Response, *, idempotent: bool) -> Outcome:
        """What a non-2xx answer means: a status the provider gives a meaning of its own
        (:meth:`special`), then those every provider means alike, then its refusal."""
        outcome = self.special(response) or classify_status(response, idempotent=idempotent) or self.refusal(response)
        return outcome.with_request(describe(response.request))

    def special(self, response: httpx.Response) -> Outcome | None:
        """Hook: a status this provider means differently from everyone (PrintNow's 409)."""
        return None

    def refusal(self, response: httpx.Response) -> Outcome:
        """The Outcome of a refusal (a 4xx): the provider's error map. By default
        :attr:`status_codes`, else ``http_<status>``, with the message its body carries."""
        status = response.status_code
        return Outcome.permanent(self.status_codes.get(status, f"http_{status}"), error_message(response), http_status=status)

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
