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
from typing import TYPE_CHECKING, Any, get_args, get_origin

from pydantic import BaseModel, Field, SecretStr, create_model
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.provider_settings import ProviderSettings, RateLimit, RateLimits, parse_rate_limits

__all__ = [
    "CircuitSettings",
    "ConsoleSettings",
    "FlowerSettings",
    "ProviderSettings",
    "RateLimit",
    "RateLimits",
    "RetentionSettings",
    "RetryPolicy",
    "Settings",
    "get_settings",
    "parse_rate_limits",
]


class FlowerSettings(BaseModel):
    basic_auth: SecretStr | None = None
    port: int = 5555


class ConsoleSettings(BaseModel):
    """``PRINTRELAY_CONSOLE__…``: the job-level web page (``printrelay console``).

    ``basic_auth`` (``user:password``) may act; ``viewer_auth`` (``user:password``) only reads.
    Without ``basic_auth`` the console does not start unless told ``--unauthenticated``.
    """

    basic_auth: SecretStr | None = None
    viewer_auth: SecretStr | None = None
    port: int = 5556


class RetentionSettings(BaseModel):
    """``PRINTRELAY_RETENTION__…``: forgetting finished jobs in time (worker.retention).

    90 days keeps a quarter's history for support and accounting questions; 30 days of customer
    data covers returns and reprints, after which an order's names and addresses have no
    business in a job log. 0 turns either off.
    """

    #: finished jobs (and their attempts) are deleted this many days after they ended
    finished_days: float = Field(default=90, ge=0)
    #: the customer data in a finished job's payload is replaced by a marker after this many days
    scrub_days: float = Field(default=30, ge=0)
    #: jobs per transaction, so that each holds its locks only briefly
    batch: int = Field(default=1000, ge=1, le=10000)


class CircuitSettings(BaseModel):
    """``PRINTRELAY_CIRCUIT__…``: when a provider account counts as down (worker.circuit).

    The defaults: 5 failed calls of at least 2 jobs within 30 s is more than one job's bad luck
    (a job's own failures never open it) and less than a minute of hammering a provider that is
    down; probes from 2 s doubling to a minute find it back within a minute of its return.
    """

    enabled: bool = True
    #: failed calls within ``window`` seconds that open the circuit …
    failures: int = Field(default=5, ge=1)
    window: float = Field(default=30.0, gt=0)
    #: … of at least this many different jobs
    jobs: int = Field(default=2, ge=1)
    #: the first probe after this many seconds, doubling up to ``probe_max``
    probe_min: float = Field(default=2.0, gt=0)
    probe_max: float = Field(default=60.0, gt=0)


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


class SettingsBase(BaseSettings):
    """Everything printrelay reads from its environment but the providers' own settings, which
    :class:`Settings` adds: one field per registered provider (``PRINTRELAY_<NAME>__…``)."""

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

    flower: FlowerSettings = Field(default_factory=FlowerSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    circuit: CircuitSettings = Field(default_factory=CircuitSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)

    #: Per job kind overrides of the waiting policy, e.g. PRINTRELAY_RETRY__SUBMIT_ORDER__MAX_ATTEMPTS=5.
    retry: dict[str, RetryPolicy] = Field(default_factory=dict)
    #: Waits up to this many seconds also go out as a Celery countdown, for punctuality. Longer
    #: ones live only in the database until beat's dispatcher publishes them.
    countdown_max: float = Field(default=30.0, ge=0)
    #: A running job whose worker has not renewed its lease for this many seconds is presumed
    #: crashed and taken over (worker.heartbeat renews every quarter lease while the worker lives).
    lease_seconds: float = Field(default=20.0, gt=0)
    #: While the database cannot be reached, a worker retries its claims and the recording of an
    #: attempt this long (backoff up to 2 s) before leaving the job to Celery's retry and beat's
    #: recovery; an outcome it could not write stays journalled in Redis for the recovery.
    database_retry_seconds: float = Field(default=60.0, ge=0)
    #: A queued job that no worker claimed within this many seconds is published again.
    requeue_after: float = Field(default=300.0, gt=0)
    #: A job may reserve a rate-limit slot up to this many seconds ahead (spaces waiting jobs out).
    rate_limit_reserve_max: float = Field(default=300.0, ge=0)
    #: The share of every bucket's quota left unused (rate and burst), for the jitter between a
    #: slot and its request's arrival: measured by bench/quota.py (0 draws 429s at full quota).
    rate_limit_margin: float = Field(default=0.02, ge=0, lt=1)
    #: Waits for a slot up to this long are slept in the worker thread; longer ones go back to waiting.
    rate_limit_inline_max: float = Field(default=1.0, ge=0)
    #: Threads per worker process for `printrelay worker` (I/O bound: mostly waiting on HTTP).
    worker_concurrency: int = Field(default=16, ge=1)

    def rate_limits(self, provider: str) -> dict[str, tuple[int, float]]:
        """A provider's buckets: the setting if given, else the built-in published limits."""
        configured = self.provider(provider).rate_limits
        if configured is not None:
            return {name: (limit.count, limit.seconds) for name, limit in configured.items()}
        from worker.adapters.registry import providers

        known = providers().get(provider)
        return dict(known.rate_limits) if known else dict(UNPUBLISHED_LIMIT)

    def provider(self, name: str) -> ProviderSettings:
        """One provider's settings (its model is the provider's own: see its adapter module)."""
        settings = getattr(self, name, None)
        if not isinstance(settings, ProviderSettings):
            raise KeyError(name)
        return settings


#: A conservative bucket for a provider that publishes no limit: 5 requests a second, sustained.
UNPUBLISHED_LIMIT: dict[str, tuple[int, float]] = {"default": (300, 60.0)}


def _settings_class() -> type[SettingsBase]:
    """``SettingsBase`` plus one field per registered provider, typed by its settings model."""
    from worker.adapters.registry import providers

    fields: dict[str, Any] = {name: (p.settings, Field(default_factory=p.settings)) for name, p in providers().items()}
    return create_model("Settings", __base__=SettingsBase, __module__=__name__, __doc__=SettingsBase.__doc__, **fields)


if TYPE_CHECKING:
    Settings = SettingsBase
else:
    Settings = _settings_class()


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
