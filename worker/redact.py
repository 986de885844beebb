"""Keeping secrets out of what printrelay writes down.

Adapters never put a credential in an Outcome on purpose; this is the second line: any text
that reaches an attempt row or a log line is scrubbed of the provider's secret values (and of
bearer tokens printrelay obtained at run time), whatever put them there.

The runtime owns one :class:`Redactor` per provider, built once from its settings; an adapter's
authentication hands it the tokens it obtains (:meth:`Redactor.remember`).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from pydantic import BaseModel, SecretStr

from worker.outcome import Outcome

MASK = "[redacted]"
#: Shorter values are not secrets worth masking (and would mask ordinary words).
MIN_SECRET = 6


def secret_values(model: BaseModel) -> set[str]:
    """Every SecretStr value in ``model``, its nested models and its ``accounts`` overrides."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, SecretStr):
            found.add(value.get_secret_value())
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, str) and any(w in key.lower() for w in ("secret", "key", "token", "password")):
                    found.add(item)
                else:
                    walk(item)

    walk(model)
    return {v for v in found if len(v) >= MIN_SECRET}


class Redactor:
    """Masks a provider's secrets: those of its settings and those obtained while it runs."""

    def __init__(self, secrets: set[str]) -> None:
        self._secrets = set(secrets)
        self._ordered = sorted(self._secrets, key=len, reverse=True)
        self._lock = threading.Lock()

    @classmethod
    def for_settings(cls, settings: BaseModel) -> Redactor:
        return cls(secret_values(settings))

    def remember(self, secret: str) -> None:
        """A secret obtained at run time (an OAuth access token): masked from now on."""
        if len(secret) >= MIN_SECRET:
            with self._lock:
                if secret not in self._secrets:
                    self._secrets.add(secret)
                    self._ordered = sorted(self._secrets, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._ordered:
            text = text.replace(secret, MASK)
        return text

    def redact_outcome(self, outcome: Outcome) -> Outcome:
        return replace(
            outcome,
            error_message=self._maybe(outcome.error_message),
            note=self._maybe(outcome.note),
            request=self._maybe(outcome.request),
        )

    def _maybe(self, text: str | None) -> str | None:
        return self.redact(text) if text is not None else None
