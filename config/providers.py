"""Built-in knowledge of each provider: live base URL, published rate-limit buckets.

These are defaults only; every value can be overridden with ``PRINTRELAY_<PROVIDER>__…``.
Where a provider publishes nothing (see ../shared/PROVIDERS.md, "Unknown"), the bucket is
deliberately conservative: a slow push is recoverable, a ban is not.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ProviderDefaults:
    """What printrelay assumes about a provider before any setting or response header says otherwise."""

    name: str
    base_url: str
    #: bucket name -> (count, seconds)
    rate_limits: dict[str, tuple[int, float]] = field(default_factory=dict)


#: Conservative bucket for providers that publish no limit: 5 requests a second, sustained.
UNPUBLISHED_LIMIT: dict[str, tuple[int, float]] = {"default": (300, 60.0)}

PROVIDERS: dict[str, ProviderDefaults] = {
    "printeers": ProviderDefaults(
        name="printeers",
        base_url="https://api.printeers.com/v2",
        rate_limits={
            "default": (3000, 60.0),
            "uploads": (5000, 86400.0),
            "downloads": (100000, 86400.0),
        },
    ),
    "printapi": ProviderDefaults(name="printapi", base_url="https://live.printapi.nl/v2", rate_limits=dict(UNPUBLISHED_LIMIT)),
    "idealfactory": ProviderDefaults(
        # Ideal Factory publishes no host: it must be configured (PRINTRELAY_IDEALFACTORY__BASE_URL).
        name="idealfactory",
        base_url="https://oms.idealfactory.invalid",
        rate_limits=dict(UNPUBLISHED_LIMIT),
    ),
    "printnow": ProviderDefaults(name="printnow", base_url="https://api.printnow.com/api/v2", rate_limits=dict(UNPUBLISHED_LIMIT)),
    "printlane": ProviderDefaults(
        # Printlane asks integrations to spread pushes out: one a second.
        name="printlane",
        base_url="https://api.printlane.com/2023-10",
        rate_limits={"default": (60, 60.0)},
    ),
    # Not a print provider: printrelay's own notifications to producers' URLs (worker/notify.py).
    # One bucket for all receivers; a receiver's 429 or 503 + Retry-After is honoured per job.
    "webhook": ProviderDefaults(name="webhook", base_url="", rate_limits={"default": (6000, 60.0)}),
}
#: The print providers, for where "a provider" means one of the five (not printrelay's own webhook).
PRINT_PROVIDERS = tuple(name for name in PROVIDERS if name != "webhook")
