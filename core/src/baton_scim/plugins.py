"""Finding providers: entry points, the plugin manager, the registry."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any, cast

import pluggy

from . import hookspecs
from .config import ProviderConfig
from .errors import PluginError, ProviderNotFound
from .provider import Credentials, Provider, ProviderContext

logger = logging.getLogger(__name__)


class Registry:
    """The providers offered by every installed plugin, by name."""

    def __init__(self, providers: dict[str, Provider]) -> None:
        self._providers = providers

    def __iter__(self) -> Iterator[Provider]:
        return iter(sorted(self._providers.values(), key=lambda p: p.name))

    def __contains__(self, name: str) -> bool:
        return name in self._providers

    def names(self) -> list[str]:
        return sorted(self._providers)

    def get(self, name: str) -> Provider:
        """The provider called ``name``; a clear error when none is installed."""
        if name in self._providers:
            return self._providers[name]
        installed = ", ".join(self.names()) or "none"
        raise ProviderNotFound(
            f"no provider called {name!r} is installed (installed: {installed})",
            hint=f"pip install baton-scim-{name}, or pass --scim-config FILE",
        )


def discovery_manager(extra: Iterable[object] = ()) -> pluggy.PluginManager:
    """A plugin manager holding every installed provider plugin."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    try:
        manager.load_setuptools_entrypoints(hookspecs.ENTRY_POINT_GROUP)
    except Exception as exc:  # a broken third-party plugin must not hide the rest
        raise PluginError(
            f"a provider plugin failed to load: {exc}",
            hint="reinstall or uninstall the plugin named above",
        ) from exc
    for plugin in extra:
        manager.register(plugin)
    return manager


def load_registry(extra: Iterable[object] = ()) -> Registry:
    """Collect the providers of every installed plugin; refuse duplicates."""
    manager = discovery_manager(extra)
    packages = _packages(manager)
    providers: dict[str, Provider] = {}
    for impl in manager.hook.baton_scim_providers.get_hookimpls():
        offered = cast(list[Provider], impl.function() or [])
        for provider in offered:
            _claim(providers, _stamp(provider, packages.get(id(impl.plugin))))
    return Registry(providers)


def _packages(manager: pluggy.PluginManager) -> dict[int, tuple[str, str]]:
    return {
        id(plugin): (dist.project_name, dist.version)
        for plugin, dist in manager.list_plugin_distinfo()
    }


def _stamp(provider: Provider, package: tuple[str, str] | None) -> Provider:
    if package is None or provider.package:
        return provider
    from dataclasses import replace

    return replace(provider, package=package[0], version=package[1])


def _claim(providers: dict[str, Provider], provider: Provider) -> None:
    other = providers.get(provider.name)
    if other is not None:
        raise PluginError(
            f"two plugins claim the provider {provider.name!r}: "
            f"{other.package or 'unknown package'} and "
            f"{provider.package or 'unknown package'}",
            hint="uninstall one of them",
        )
    providers[provider.name] = provider


def run_context(
    provider: Provider,
    config: ProviderConfig,
    credentials: Credentials,
    options: dict[str, Any] | None = None,
) -> ProviderContext:
    """The context of one run: the core defaults plus this provider's hooks."""
    from . import defaults

    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    manager.register(defaults, name="baton_scim.defaults")
    if provider.hooks is not None:
        manager.register(provider.hooks, name=f"provider.{provider.name}")
    context = ProviderContext(provider, config, credentials, manager.hook)
    context.options.update(options or {})
    return context
