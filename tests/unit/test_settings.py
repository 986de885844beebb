"""Settings: the contract's names, the rate-limit form, secrets that never print."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from config.settings import Settings
from worker.redact import Redactor


def test_defaults_match_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("PRINTRELAY_")]:
        monkeypatch.delenv(name)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.database_url == "sqlite:///./var/printrelay.db"
    assert str(settings.artifact_dir) == "var/artifacts"
    assert settings.printeers.base_url == "https://api.printeers.com/v2"
    assert settings.flower.port == 5555


def test_environment_names_and_nesting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRINTRELAY_PRINTEERS__BASE_URL", "http://127.0.0.1:9000/printeers/v2")
    monkeypatch.setenv("PRINTRELAY_PRINTEERS__RATE_LIMITS", "default=10/1, uploads=5000/86400")
    monkeypatch.setenv("PRINTRELAY_PRINTEERS__SECRET_KEY", "sk_live_topsecret")
    monkeypatch.setenv("PRINTRELAY_PRINTLANE__API_SECRET", "hmac-secret-value")
    monkeypatch.setenv("PRINTRELAY_RETRY__SUBMIT_ORDER__MAX_ATTEMPTS", "3")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.printeers.base_url.endswith("/printeers/v2")
    assert {k: (v.count, v.seconds) for k, v in (settings.printeers.rate_limits or {}).items()} == {
        "default": (10, 1.0),
        "uploads": (5000, 86400.0),
    }
    assert settings.retry["submit_order"].max_attempts == 3
    # secrets never print
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert "sk_live_topsecret" not in text
        assert "hmac-secret-value" not in text


def test_bad_rate_limit_names_the_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRINTRELAY_PRINTEERS__RATE_LIMITS", "default=lots")
    with pytest.raises(ValidationError, match="name=COUNT/SECONDS"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_accounts_inherit_and_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRINTRELAY_PRINTEERS__SECRET_KEY", "sk_default_key")
    monkeypatch.setenv("PRINTRELAY_PRINTEERS__ACCOUNTS__SHOP2__SECRET_KEY", "sk_shop2_key")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    shop2 = settings.printeers.for_account("shop2")
    assert shop2.secret_key is not None and shop2.secret_key.get_secret_value() == "sk_shop2_key"
    assert shop2.base_url == settings.printeers.base_url
    assert not settings.printeers.has_account("nobody")
    redactor = Redactor.for_settings(settings.printeers)
    assert redactor.redact("key sk_shop2_key and sk_default_key") == "key [redacted] and [redacted]"
