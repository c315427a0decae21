"""From settings to a ready provider context: nothing touches the network."""

from __future__ import annotations

import logging
from dataclasses import replace

import httpx

from .config import ProviderConfig
from .errors import ConfigError
from .plugins import Registry, load_registry, run_context
from .provider import (
    DescriptionRequest,
    Provider,
    ProviderContext,
    read_file_description,
)
from .settings import Settings

logger = logging.getLogger(__name__)

CUSTOM_PROVIDER = "custom"


def choose_provider(settings: Settings, registry: Registry) -> Provider:
    """The provider named by --service-provider, or the custom YAML one."""
    if settings.service_provider:
        return registry.get(settings.service_provider)
    if settings.scim_config:
        return registry.get(CUSTOM_PROVIDER)
    raise ConfigError(
        "no provider was chosen",
        hint="pass --service-provider NAME (see 'baton-scim providers') "
        "or --scim-config FILE",
    )


def prepare(settings: Settings, registry: Registry | None = None) -> ProviderContext:
    """Validate the description and credentials; build the run context."""
    registry = registry or load_registry()
    provider = choose_provider(settings, registry)
    config = load_description(provider, settings)
    options = {"verify": settings.verify, "token_transport": settings.token_transport}
    context = run_context(provider, config, settings.credentials, options)
    context.options["auth"] = build_auth(context)
    logger.debug("provider %s from %s", provider.name, provider.source)
    return context


def load_description(provider: Provider, settings: Settings) -> ProviderConfig:
    """The provider's description; --scim-config replaces a built-in one."""
    request = DescriptionRequest(scim_config=settings.scim_config)
    if settings.scim_config and not provider.needs_scim_config:
        provider = replace(provider, load_description=read_file_description)
    return provider.config(request, overrides=settings.overrides())


def build_auth(context: ProviderContext) -> httpx.Auth:
    """Ask the authentication hooks for the run's httpx Auth."""
    auth: httpx.Auth | None = context.hook.baton_scim_auth(
        provider=context, credentials=context.credentials
    )
    if auth is None:
        raise ConfigError(f"the {context.name} provider set up no authentication")
    return auth
