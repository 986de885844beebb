"""Keeping secrets out of what printrelay writes down.

Adapters never put a credential in an Outcome on purpose; this is the second line: any text
that reaches an attempt row or a log line is scrubbed of the provider's secret values (and of
bearer tokens printrelay obtained at run time), whatever put them there.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pydantic import BaseModel, SecretStr

from worker.outcome import Outcome

MASK = "[redacted]"
_runtime_secrets: set[str] = set()


def register_secret(value: str) -> None:
    """Remember a secret obtained at run time (an OAuth access token) so that it is redacted too."""
    if len(value) >= 6:
        _runtime_secrets.add(value)


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
    return {v for v in found if len(v) >= 6}


class Redactor:
    def __init__(self, secrets: set[str]) -> None:
        self.secrets = sorted(secrets, key=len, reverse=True)

    @classmethod
    def for_settings(cls, settings: BaseModel) -> Redactor:
        return cls(secret_values(settings) | _runtime_secrets)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        for secret in _runtime_secrets:
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
