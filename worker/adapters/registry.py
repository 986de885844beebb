"""The providers printrelay knows: one :class:`Provider` per provider, declared in its adapter module.

A provider is one unit. Its adapter module declares, next to the adapter, everything the rest of
printrelay needs to know about it — its settings model, live base URL, rate-limit buckets and
the sandbox's stand-in for it — as a module-level ``PROVIDER``. Everything else iterates this
registry: the settings (``PRINTRELAY_<NAME>__…``), the Celery queues, the CLI's help, the
sandbox's mounts, the demo's environment and the test fixtures. A new provider is therefore its
adapter module, its sandbox module and its tests; nothing else is edited.

Providers are found by importing every module of :mod:`worker.adapters`, then the modules named
in ``PRINTRELAY_PLUGINS`` (comma-separated), which is how a provider that lives outside this
repository (or a test's toy provider) joins::

    PRINTRELAY_PLUGINS=acme_print.printrelay printrelay worker

Warning: plugins are read from the environment when the registry is first used, before the
settings exist (the settings are built from the registry), so a ``.env`` file cannot name them.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from config.provider_settings import ProviderSettings
    from worker.adapters.base import Adapter

#: Modules of this package that are not providers.
_NOT_PROVIDERS = frozenset({"auth", "base", "registry"})
#: Providers of this package that are printrelay's own, not print providers (``Provider.internal``).
_INTERNAL = frozenset({"webhook"})


@dataclass(frozen=True)
class SandboxSpec:
    """Where the sandbox serves its stand-in for the provider, and how to talk to it there."""

    #: the path the provider's documented paths are appended to, on the sandbox (``/printeers/v2``)
    prefix: str
    #: ``"module:function"`` building the provider's Starlette app from its state
    app: str
    #: ``"module:Class"`` of the provider's state (one per sandbox; replaced on reset)
    state: str
    #: ``(base_url, tag) -> settings``: credentials the sandbox accepts; ``tag`` keeps tests apart
    settings: Callable[[str, str], dict[str, Any]] = field(default=lambda base_url, tag: {"base_url": base_url})
    #: ``"module:function"`` returning the provider's control-panel routes (``/_sandbox/<name>/…``)
    controls: str | None = None


@dataclass(frozen=True)
class Provider:
    """One provider, all in one place."""

    name: str
    adapter: Adapter[Any]
    settings: type[ProviderSettings]
    #: the provider's live API base URL (a setting overrides it)
    base_url: str
    #: bucket name -> (count, seconds): the published limits, or a conservative guess
    rate_limits: Mapping[str, tuple[int, float]]
    sandbox: SandboxSpec | None = None
    #: where it stands in lists (the CLI's help, ``printrelay limits``); ties by name
    order: int = 100

    @property
    def internal(self) -> bool:
        """printrelay's own (the webhook of notifications): not a print provider."""
        return self.adapter.internal

    @property
    def kinds(self) -> frozenset[str]:
        return self.adapter.kinds


_lock = threading.RLock()
_registry: dict[str, Provider] = {}
_discovered = False


#: :func:`providers`' answer, sorted once: the worker asks for a job's adapter on every attempt
_in_order: Mapping[str, Provider] | None = None


def register(provider: Provider) -> Provider:
    """Add (or replace) a provider. Returns it, so a module can write ``PROVIDER = register(…)``."""
    global _in_order
    with _lock:
        _registry[provider.name] = provider
        _in_order = None
    return provider


def providers() -> Mapping[str, Provider]:
    """Every provider, in their ``order`` (read-only)."""
    global _in_order
    _discover()
    with _lock:
        if _in_order is None:
            _in_order = MappingProxyType(dict(sorted(_registry.items(), key=lambda item: (item[1].order, item[0]))))
        return _in_order


def get(name: str) -> Provider:
    try:
        return providers()[name]
    except KeyError:
        raise KeyError(name) from None


def print_providers() -> tuple[str, ...]:
    """The print providers (not printrelay's own webhook), for help texts and fixtures."""
    return tuple(name for name, p in providers().items() if not p.internal)


def print_provider_names() -> tuple[str, ...]:
    """The print providers' names, alphabetically, without importing a provider: for ``--help``,
    which must start in a blink. A built-in provider's module bears its name (a unit test holds
    them to it). With ``PRINTRELAY_PLUGINS`` set, the registry is read: a plugin's name is known
    only to its module."""
    if _discovered or any(m.strip() for m in os.environ.get("PRINTRELAY_PLUGINS", "").split(",")):
        return tuple(sorted(print_providers()))
    spec = importlib.util.find_spec("worker.adapters")
    assert spec is not None and spec.submodule_search_locations is not None
    modules = pkgutil.iter_modules(spec.submodule_search_locations)
    return tuple(sorted(m.name for m in modules if m.name not in _NOT_PROVIDERS | _INTERNAL))


def _discover() -> None:
    global _discovered, _in_order
    if _discovered:
        return
    with _lock:
        if _discovered:
            return
        package = importlib.import_module("worker.adapters")
        names = [f"worker.adapters.{m.name}" for m in pkgutil.iter_modules(package.__path__) if m.name not in _NOT_PROVIDERS]
        names += [m.strip() for m in os.environ.get("PRINTRELAY_PLUGINS", "").split(",") if m.strip()]
        for name in names:
            module = importlib.import_module(name)
            if isinstance(found := getattr(module, "PROVIDER", None), Provider):
                _registry.setdefault(found.name, found)
        _in_order = None
        _discovered = True
