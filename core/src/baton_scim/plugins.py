"""Finding providers: entry points, the plugin manager, the registry."""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import replace
from importlib import metadata
from typing import Any

import pluggy

from . import hookspecs
from .config import ProviderConfig
from .errors import PluginError, ProviderNotFound
from .provider import Credentials, Provider, ProviderContext

logger = logging.getLogger(__name__)
# A trailing API version (slack-v1) names a variant of the provider before it.
_VERSION_SUFFIX = re.compile(r"-v\d+$")

# The package that installs a plugin: its distribution name and version.
Package = tuple[str, str]


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
        close = difflib.get_close_matches(name, self.names(), n=1)
        guess = f"; did you mean {close[0]!r}?" if close else ""
        raise ProviderNotFound(
            f"no provider called {name!r} is installed (installed: {installed}){guess}",
            hint=f"pip install {package_for(name)}, or pass --scim-config FILE",
        )


def package_for(name: str) -> str:
    """The distribution to suggest for a provider that is not installed.

    Plugins are published as ``baton-scim-<name>``; a name ending in an API
    version (``slack-v1``) is a variant that ships in the package of the
    name before it (``baton-scim-slack``), as docs/plugins.md asks authors.
    """
    return f"baton-scim-{_VERSION_SUFFIX.sub('', name) or name}"


class Discovery:
    """The plugin manager of every installed plugin, and who installed each."""

    def __init__(self) -> None:
        self.manager = pluggy.PluginManager(hookspecs.PROJECT)
        self.manager.add_hookspecs(hookspecs)
        self.packages: dict[int, Package] = {}

    def load_entry_points(self) -> None:
        """Load every entry point of the group, each under its own name.

        pluggy's own loader skips an entry point whose name is already
        registered, so a second package claiming ``slack`` would vanish
        silently; registering each under ``package:name`` lets the registry
        see both and refuse the clash.
        """
        for entry_point in metadata.entry_points(group=hookspecs.ENTRY_POINT_GROUP):
            package = _package_of(entry_point)
            plugin = _load(entry_point, package)
            self._register(plugin, f"{package[0]}:{entry_point.name}", package)

    def register(self, plugin: object, package: Package | None = None) -> None:
        """Register a plugin object that no entry point names (tests, embedding)."""
        self._register(plugin, None, package)

    def _register(
        self, plugin: object, name: str | None, package: Package | None
    ) -> None:
        if self.manager.is_registered(plugin):
            owner = self.packages.get(id(plugin), ("another package", ""))[0]
            raise PluginError(
                f"the plugin {name or plugin!r} is registered twice (also by {owner})",
                hint="uninstall one of the packages that install it",
            )
        self.manager.register(plugin, name=name)
        if package is not None:
            self.packages[id(plugin)] = package


def _package_of(entry_point: metadata.EntryPoint) -> Package:
    dist = entry_point.dist
    if dist is None:
        return ("unknown package", "")
    return (dist.name or "unknown package", dist.version or "")


def _load(entry_point: metadata.EntryPoint, package: Package) -> object:
    try:
        return entry_point.load()
    except Exception as exc:  # a broken third-party plugin must say who it is
        raise PluginError(
            f"the provider plugin {entry_point.name!r} of {package[0]} failed to "
            f"load: {type(exc).__name__}: {exc}",
            hint=f"reinstall or uninstall {package[0]}",
        ) from exc


def discover(extra: Iterable[object] = ()) -> Discovery:
    """Every installed provider plugin, plus ``extra`` plugin objects."""
    discovery = Discovery()
    discovery.load_entry_points()
    for plugin in extra:
        discovery.register(plugin)
    return discovery


def load_registry(extra: Iterable[object] = ()) -> Registry:
    """Collect the providers of every installed plugin; refuse duplicates."""
    discovery = discover(extra)
    providers: dict[str, Provider] = {}
    for impl in discovery.manager.hook.baton_scim_providers.get_hookimpls():
        package = discovery.packages.get(id(impl.plugin))
        for provider in _offered(impl, package):
            _claim(providers, _stamp(provider, package))
    return Registry(providers)


def _offered(impl: Any, package: Package | None) -> list[Provider]:
    who = package[0] if package else impl.plugin_name
    try:
        offered = impl.function() or []
    except Exception as exc:
        raise PluginError(
            f"the provider plugin of {who} failed to list its providers: "
            f"{type(exc).__name__}: {exc}",
            hint=f"reinstall or uninstall {who}",
        ) from exc
    if not isinstance(offered, list | tuple) or not all(
        isinstance(item, Provider) for item in offered
    ):
        raise PluginError(
            f"the provider plugin of {who} returned something other than a "
            "list of baton_scim.provider.Provider",
            hint=f"report it to the authors of {who}",
        )
    return list(offered)


def _stamp(provider: Provider, package: Package | None) -> Provider:
    if package is None or provider.package:
        return provider
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
