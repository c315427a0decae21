"""Which SCIM version of Slack an endpoint is, and refusing a mismatch."""

from __future__ import annotations

from urllib.parse import urlsplit

from baton_scim.errors import ProvisioningError
from baton_scim.provider import ProviderContext

PROVIDER_OF = {"v1": "slack-v1", "v2": "slack"}


def endpoint_version(api_endpoint: str) -> str | None:
    """``v1`` or ``v2`` when the endpoint is one of Slack's SCIM paths."""
    path = urlsplit(api_endpoint).path.rstrip("/")
    for version in PROVIDER_OF:
        if path.endswith(f"/scim/{version}"):
            return version
    return None


def require_version(provider: ProviderContext, expected: str) -> None:
    """Refuse to send one version's PATCH body to the other version's API."""
    found = endpoint_version(provider.config.api_endpoint)
    if found is None or found == expected:
        return
    raise ProvisioningError(
        f"{provider.config.api_endpoint} is Slack's SCIM {found} API, but the "
        f"{provider.name} provider writes SCIM {expected} PATCH bodies",
        hint=f"use --service-provider {PROVIDER_OF[found]}",
    )
