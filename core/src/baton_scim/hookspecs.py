"""The plugin contract: every hook a provider plugin can implement.

Providers register through the entry-point group ``baton_scim.providers``.
During a run, only the chosen provider's hooks are registered, next to the
core's defaults (which run last), so a plugin never sees another provider's
traffic. Hooks marked ``firstresult`` stop at the first non-None answer:
return None to leave a case to the defaults.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import httpx

    from .provider import Credentials, ListPage, Provider, ProviderContext
    from .provisioning import Change, ProvisioningRequest
    from .records import GroupRecord, UserRecord

PROJECT = "baton_scim"
ENTRY_POINT_GROUP = "baton_scim.providers"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def baton_scim_providers() -> list[Provider]:  # type: ignore[empty-body]
    """At start-up: return the providers this plugin offers."""


@hookspec(firstresult=True)
def baton_scim_auth(
    provider: ProviderContext, credentials: Credentials
) -> httpx.Auth | None:
    """Before the first request: return the httpx Auth that signs every request."""


@hookspec(firstresult=True)
def baton_scim_page_params(
    provider: ProviderContext,
    endpoint: str,
    start_index: int,
    count: int,
    cursor: str | None,
) -> dict[str, str] | None:
    """Before each list request: return its query parameters."""


@hookspec(firstresult=True)
def baton_scim_read_page(
    provider: ProviderContext, endpoint: str, body: Any
) -> ListPage | None:
    """After each list response: return the resources and paging fields in it."""


@hookspec(firstresult=True)
def baton_scim_map_user(
    provider: ProviderContext, resource: dict[str, Any]
) -> UserRecord | None:
    """For each listed user: return its record (roles and groups included)."""


@hookspec(firstresult=True)
def baton_scim_map_group(
    provider: ProviderContext, resource: dict[str, Any]
) -> GroupRecord | None:
    """For each listed group: return its record (members included)."""


@hookspec(firstresult=True)
def baton_scim_provisioning_request(
    provider: ProviderContext, change: Change
) -> ProvisioningRequest | None:
    """For a grant or revoke: return its request; change.current, .version: as read."""


@hookspec(firstresult=True)
def baton_scim_error_detail(
    provider: ProviderContext, status: int, body: Any
) -> str | None:
    """For an error response: return the service's explanation from its body."""
