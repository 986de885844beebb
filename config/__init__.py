"""printrelay's configuration: settings from the environment, provider defaults, Celery config.

>>> from config import get_settings
>>> get_settings().redis_url
'redis://127.0.0.1:6379/0'

Each provider's own settings model lives with its adapter (``worker/adapters/<name>.py``).
The names below are imported when first used: ``Settings`` is built from the provider registry,
and an adapter importing :mod:`config.provider_settings` must not set that off half-way.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from config.providers import PROVIDERS, ProviderDefaults
    from config.settings import FlowerSettings, ProviderSettings, RateLimit, RetryPolicy, Settings, get_settings, use_settings

_LAZY = {
    "PROVIDERS": "config.providers",
    "ProviderDefaults": "config.providers",
    "FlowerSettings": "config.settings",
    "ProviderSettings": "config.provider_settings",
    "RateLimit": "config.provider_settings",
    "RetryPolicy": "config.settings",
    "Settings": "config.settings",
    "get_settings": "config.settings",
    "use_settings": "config.settings",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'config' has no attribute {name!r}")


__all__ = [
    "PROVIDERS",
    "FlowerSettings",
    "ProviderDefaults",
    "ProviderSettings",
    "RateLimit",
    "RetryPolicy",
    "Settings",
    "get_settings",
    "use_settings",
]
