"""What every provider's settings have: where it lives, how fast it may be called, its accounts.

Each provider's own settings model subclasses :class:`ProviderSettings` in its adapter module
(see :mod:`worker.adapters.registry`); :mod:`config.settings` puts one field per provider on
``Settings``, so ``PRINTRELAY_<PROVIDER>__…`` reaches it.
"""

from __future__ import annotations

from typing import Annotated, Any, Self

from pydantic import BaseModel, BeforeValidator, Field
from pydantic_settings import NoDecode


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
