"""Built-in knowledge of each provider, as its adapter module declares it (the registry).

Kept for the names the rest of printrelay and its users know: ``PROVIDERS[name]`` has the
provider's live base URL and its rate-limit buckets; ``PRINT_PROVIDERS`` lists the print
providers (not printrelay's own webhook). Both read :mod:`worker.adapters.registry` when used.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ProviderDefaults:
    """What printrelay assumes about a provider before any setting or response header says otherwise."""

    name: str
    base_url: str
    #: bucket name -> (count, seconds)
    rate_limits: dict[str, tuple[int, float]] = field(default_factory=dict)


class _Defaults(Mapping[str, ProviderDefaults]):
    def _all(self) -> dict[str, ProviderDefaults]:
        from worker.adapters.registry import providers

        return {name: ProviderDefaults(name, p.base_url, dict(p.rate_limits)) for name, p in providers().items()}

    def __getitem__(self, name: str) -> ProviderDefaults:
        return self._all()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


PROVIDERS: Mapping[str, ProviderDefaults] = _Defaults()


def __getattr__(name: str) -> Any:
    if name == "PRINT_PROVIDERS":
        from worker.adapters.registry import print_providers

        return print_providers()
    raise AttributeError(f"module 'config.providers' has no attribute {name!r}")
