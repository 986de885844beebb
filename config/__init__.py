"""printrelay's configuration: settings from the environment, provider defaults, Celery config.

>>> from config import get_settings
>>> get_settings().redis_url
'redis://127.0.0.1:6379/0'
"""

from config.providers import PROVIDERS, ProviderDefaults
from config.settings import (
    FlowerSettings,
    IdealfactorySettings,
    PrintapiSettings,
    PrinteersSettings,
    PrintlaneSettings,
    PrintnowSettings,
    ProviderSettings,
    RateLimit,
    RetryPolicy,
    Settings,
    get_settings,
    use_settings,
)

__all__ = [
    "PROVIDERS",
    "FlowerSettings",
    "IdealfactorySettings",
    "PrintapiSettings",
    "PrinteersSettings",
    "PrintlaneSettings",
    "PrintnowSettings",
    "ProviderDefaults",
    "ProviderSettings",
    "RateLimit",
    "RetryPolicy",
    "Settings",
    "get_settings",
    "use_settings",
]
