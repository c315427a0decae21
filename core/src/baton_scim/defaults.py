"""The core's own hook implementations: generic SCIM 2.0, run last."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .hookspecs import hookimpl
from .provider import ListPage

if TYPE_CHECKING:
    import httpx

    from .provider import Credentials, ProviderContext
    from .provisioning import Change, ProvisioningRequest
    from .records import GroupRecord, UserRecord


@hookimpl(trylast=True)
def baton_scim_auth(
    provider: ProviderContext, credentials: Credentials
) -> httpx.Auth | None:
    from .auth import build_auth

    return build_auth(provider, credentials)


@hookimpl(trylast=True)
def baton_scim_page_params(
    provider: ProviderContext,
    endpoint: str,
    start_index: int,
    count: int,
    cursor: str | None,
) -> dict[str, str]:
    # RFC 9865: the first cursor request sends an empty cursor.
    if cursor is not None:
        return {"cursor": cursor, "count": str(count)}
    return {"startIndex": str(start_index), "count": str(count)}


@hookimpl(trylast=True)
def baton_scim_read_page(
    provider: ProviderContext, endpoint: str, body: Any
) -> ListPage:
    from .paging import read_list_response

    return read_list_response(provider, endpoint, body)


@hookimpl(trylast=True)
def baton_scim_map_user(
    provider: ProviderContext, resource: dict[str, Any]
) -> UserRecord | None:
    return provider.mapper.user(resource)


@hookimpl(trylast=True)
def baton_scim_map_group(
    provider: ProviderContext, resource: dict[str, Any]
) -> GroupRecord | None:
    return provider.mapper.group(resource)


@hookimpl(trylast=True)
def baton_scim_provisioning_request(
    provider: ProviderContext, change: Change
) -> ProvisioningRequest | None:
    from .provisioning import default_request

    return default_request(provider, change)


@hookimpl(trylast=True)
def baton_scim_error_detail(
    provider: ProviderContext, status: int, body: Any
) -> str | None:
    from .http import error_detail

    return error_detail(body)
