"""The provider adapters, by provider name (and printrelay's own webhook, for notifications).

``ADAPTERS`` reads the registry (:mod:`worker.adapters.registry`) when first used, so importing
this package (as importing the registry does) imports no provider, nor httpx or pydantic: the
CLI's ``--help`` lists the providers from here without paying for them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from worker.adapters.base import Adapter


class _Adapters(Mapping[str, "Adapter[Any]"]):
    """Provider name -> adapter, for every registered provider."""

    def __getitem__(self, name: str) -> Adapter[Any]:
        from worker.adapters.registry import providers

        return providers()[name].adapter

    def __iter__(self) -> Iterator[str]:
        from worker.adapters.registry import providers

        return iter(providers())

    def __len__(self) -> int:
        from worker.adapters.registry import providers

        return len(providers())


ADAPTERS: Mapping[str, Adapter[Any]] = _Adapters()

__all__ = ["ADAPTERS"]
