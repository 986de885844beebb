"""Settings from the environment (``PRINTRELAY_…``, nested with ``__``) and a ``.env`` file.

Names are exactly those of CONTRACT.md. Secrets are :class:`~pydantic.SecretStr`: they print as
``**********`` in reprs, logs and tracebacks, and only an adapter building a request reads them.

Per-account credentials (the ``account`` of a job) live under ``accounts``::

    PRINTRELAY_PRINTEERS__SECRET_KEY=…                      # account "default"
    PRINTRELAY_PRINTEERS__ACCOUNTS__SHOP2__SECRET_KEY=…     # account "shop2"

An account inherits every field it does not set from the provider's top level.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Self, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from config.providers import PROVIDERS


class RateLimit(BaseModel):
    """One bucket: ``count`` requests per ``seconds``, refilled continuously."""

    count: int = Field(gt=0)
    seconds: float = Field(gt=0)

    def __str__(self) -> str:
        return f"{self.count}/{self.seconds:g}"


def parse_rate_limits(value: Any) -> Any:
    """Parse ``name=COUNT/SECONDS,…`` (the contract's form); dicts pass through for code callers."""
    if not isinstance(value, str):
        return value
    limits: dict[str, dict[str, float]] = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        name, sep, rate = part.partition("=")
        count, slash, seconds = rate.partition("/")
        if not (sep and slash and name.strip()):
            raise ValueError(f"rate limit {part!r} is not of the form name=COUNT/SECONDS")
        try:
            limits[name.strip()] = {"count": int(count), "seconds": float(seconds)}
        except ValueError:
            raise ValueError(f"rate limit {part!r}: COUNT must be an integer and SECONDS a number") from None
    return limits


RateLimits = Annotated[dict[str, RateLimit], NoDecode, BeforeValidator(parse_rate_limits)]


class ProviderSettings(BaseModel):
    """What every provider has: where it lives, how fast it may be called, how long to wait for it."""

    base_url: str = ""
    rate_limits: RateLimits | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    accounts: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def for_account(self, account: str) -> Self:
        """The settings one account sees: its own overrides over the provider's top level."""
        if account == "default":
            return self
        try:
            overrides = self.accounts[account.lower()]
        except KeyError:
            raise KeyError(account) from None
        return self.model_validate({**self.model_dump(exclude={"accounts"}), **overrides})

    def has_account(self, account: str) -> bool:
        return account == "default" or account.lower() in self.accounts


class PrinteersSettings(ProviderSettings):
    base_url: str = PROVIDERS["printeers"].base_url
    secret_key: SecretStr | None = None
    #: Product references that take no print image (e.g. screen protectors), over what the
    #: account's copy of the catalogue says: an override for shops that want one.
    non_print_products: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: A copy of the catalogue older than this (seconds) is not consulted at enqueue (it is
    #: refreshed daily; a copy this old means refreshing has failed for days).
    catalogue_max_age: float = Field(default=3 * 86400.0, gt=0)

    @field_validator("non_print_products", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value


class PrintapiSettings(ProviderSettings):
    base_url: str = PROVIDERS["printapi"].base_url
    client_id: str | None = None
    client_secret: SecretStr | None = None


class IdealfactorySettings(ProviderSettings):
    base_url: str = PROVIDERS["idealfactory"].base_url
    token: SecretStr | None = None
    store_id: str | None = None


class PrintnowSettings(ProviderSettings):
    base_url: str = PROVIDERS["printnow"].base_url
    token: SecretStr | None = None
    key: SecretStr | None = None


class PrintlaneSettings(ProviderSettings):
    base_url: str = PROVIDERS["printlane"].base_url
    store_id: str | None = None
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    domain: str | None = None
    #: Pushes must eventually get a 2xx (seed 004): transient failures retry this long (seconds).
    push_deadline: float = Field(default=7 * 86400.0, gt=0)


class WebhookSettings(ProviderSettings):
    """Notifications to a producer's URL (``notify={"url": …}``): every POST is signed.

    The receiver checks ``signature_header``: ``sha256=`` and the hex HMAC-SHA256 of the raw body
    under ``secret``. Without a secret, an enqueue asking for a URL notification is refused.
    """

    secret: SecretStr | None = None
    signature_header: str = "X-Printrelay-Signature"
    connect_timeout: float = 5.0
    read_timeout: float = 15.0


class FlowerSettings(BaseModel):
    basic_auth: SecretStr | None = None
    port: int = 5555


class RetryPolicy(BaseModel):
    """How one job kind waits. Unset fields fall back to the kind's built-in policy.

    ``deadline`` counts from the job's creation (or its last operator retry); ``max_attempts``
    counts only attempts that failed in a way a retry may fix (``transient``, ``crashed``).
    """

    base: float | None = Field(default=None, ge=0)
    factor: float | None = Field(default=None, ge=1)
    cap: float | None = Field(default=None, ge=0)
    max_attempts: int | None = Field(default=None, ge=1)
    deadline: float | None = Field(default=None, gt=0)
    poll_interval: float | None = Field(default=None, gt=0)


class Settings(BaseSettings):
    """Everything printrelay reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="PRINTRELAY_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
        case_sensitive=False,
    )

    redis_url: str = "redis://127.0.0.1:6379/0"
    database_url: str = "sqlite:///./var/printrelay.db"
    artifact_dir: Path = Path("./var/artifacts")

    printeers: PrinteersSettings = Field(default_factory=PrinteersSettings)
    printapi: PrintapiSettings = Field(default_factory=PrintapiSettings)
    idealfactory: IdealfactorySettings = Field(default_factory=IdealfactorySettings)
    printnow: PrintnowSettings = Field(default_factory=PrintnowSettings)
    printlane: PrintlaneSettings = Field(default_factory=PrintlaneSettings)
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)

    flower: FlowerSettings = Field(default_factory=FlowerSettings)

    #: Per job kind overrides of the waiting policy, e.g. PRINTRELAY_RETRY__SUBMIT_ORDER__MAX_ATTEMPTS=5.
    retry: dict[str, RetryPolicy] = Field(default_factory=dict)
    #: Waits up to this many seconds also go out as a Celery countdown, for punctuality. Longer
    #: ones live only in the database until beat's dispatcher publishes them.
    countdown_max: float = Field(default=30.0, ge=0)
    #: A running job whose worker has not finished within this many seconds is presumed crashed.
    lease_seconds: float = Field(default=600.0, gt=0)
    #: A queued job that no worker claimed within this many seconds is published again.
    requeue_after: float = Field(default=300.0, gt=0)
    #: A job may reserve a rate-limit slot up to this many seconds ahead (spaces waiting jobs out).
    rate_limit_reserve_max: float = Field(default=300.0, ge=0)
    #: Waits for a slot up to this long are slept in the worker thread; longer ones go back to waiting.
    rate_limit_inline_max: float = Field(default=1.0, ge=0)
    #: Threads per worker process for `printrelay worker` (I/O bound: mostly waiting on HTTP).
    worker_concurrency: int = Field(default=16, ge=1)

    def rate_limits(self, provider: str) -> dict[str, tuple[int, float]]:
        """A provider's buckets: the setting if given, else the built-in published limits."""
        configured = self.provider(provider).rate_limits
        if configured is not None:
            return {name: (limit.count, limit.seconds) for name, limit in configured.items()}
        defaults = PROVIDERS.get(provider)
        return dict(defaults.rate_limits) if defaults else {"default": (300, 60.0)}

    def provider(self, name: str) -> ProviderSettings:
        settings = getattr(self, name, None)
        if not isinstance(settings, ProviderSettings):
            raise KeyError(name)
        return settings


_lock = threading.Lock()
_current: Settings | None = None


def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    global _current
    with _lock:
        if _current is None:
            _current = Settings()
        return _current


def use_settings(settings: Settings | None) -> None:
    """Replace the process's settings (tests, the demo); ``None`` re-reads the environment next time."""
    global _current
    with _lock:
        _current = settings


def unknown_names(names: Iterable[str], *, prefix: str = "PRINTRELAY_") -> list[str]:
    """The ``PRINTRELAY_…`` names among ``names`` that no setting reads (a typo is otherwise
    silently ignored). ``PRINTRELAY_TEST_…`` and ``PRINTRELAY_DEMO_…`` belong to the tests and
    the demo.

    >>> unknown_names(["PRINTRELAY_PRINTEERS__SECRET_KEY", "PRINTRELAY_PRINTEERS__SECRETKEY", "HOME"])
    ['PRINTRELAY_PRINTEERS__SECRETKEY']
    """
    found = []
    for name in names:
        upper = name.upper()
        if not upper.startswith(prefix) or upper.startswith((f"{prefix}TEST_", f"{prefix}DEMO_")):
            continue
        if not _known(Settings, upper.removeprefix(prefix).lower().split("__")):
            found.append(name)
    return found


def _known(model: type[BaseModel], parts: list[str]) -> bool:
    field = model.model_fields.get(parts[0])
    if field is None:
        return False
    rest = parts[1:]
    if not rest:
        return True
    if parts[0] == "accounts":  # ACCOUNTS__<NAME>__<any field of the provider>
        return len(rest) >= 2 and _known(model, rest[1:])
    annotation = field.annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _known(annotation, rest)
    if get_origin(annotation) is dict:
        value = get_args(annotation)[1]
        if isinstance(value, type) and issubclass(value, BaseModel):  # RETRY__<KIND>__<field>
            return len(rest) == 1 or _known(value, rest[1:])
    return False
