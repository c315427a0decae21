"""Hooks of the ``zoom`` provider: credentials, error bodies, role changes.

Facts come from docs/providers.md §1.3 and §2.2 of the project: Zoom's
Server-to-Server OAuth needs the account ID beside the client ID and
secret; its errors are ``{"code", "message"}`` where ``code`` may be Zoom's
own error number; a user holds one role, changed with ``PUT /Users/{id}``
carrying only the attributes to change; user IDs may hold characters such
as ``&`` that must be escaped in a path.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from baton_scim.errors import CredentialsError, ProvisioningError
from baton_scim.hookspecs import hookimpl
from baton_scim.provisioning import Change, ProvisioningRequest, default_request

if TYPE_CHECKING:
    import httpx
    from baton_scim.provider import Credentials, ProviderContext

# The schema the Go connector put on its role PUT; selecting it in the
# description sends that connector's body shape (see the plugin README).
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


@hookimpl
def baton_scim_auth(
    provider: ProviderContext, credentials: Credentials
) -> httpx.Auth | None:
    # Zoom's token endpoint answers 400 without account_id; say so up front.
    obtains = credentials.client_id and credentials.client_secret
    if obtains and not credentials.account_id:
        raise CredentialsError(
            "Zoom's Server-to-Server OAuth needs --account-id (BATON_ACCOUNT_ID) "
            "beside --scim-client-id and --scim-client-secret",
            hint="copy the Account ID from the app's page in the Zoom App Marketplace",
        )
    return None


@hookimpl
def baton_scim_error_detail(
    provider: ProviderContext, status: int, body: Any
) -> str | None:
    if not isinstance(body, dict) or not isinstance(body.get("message"), str):
        return None
    message: str = body["message"]
    code = body.get("code")
    if code is None or str(code) == str(status):
        return message
    # Zoom's own error numbers (1001 "User does not exist") are searchable.
    return f"{message} (Zoom error code {code})"


@hookimpl
def baton_scim_provisioning_request(
    provider: ProviderContext, change: Change
) -> ProvisioningRequest | None:
    if change.action.endswith("role") and change.operation.method == "PUT":
        return _role_put(change)
    request = default_request(provider, change)
    assert request is not None
    return replace(request, path=_path(change))


def _role_put(change: Change) -> ProvisioningRequest:
    """PUT /Users/{id} with the user's roles as they must end up."""
    _require_version(change)
    operation = change.operation
    roles = _granted(change) if change.action == "add_user_role" else _kept(change)
    schemas = operation.schema_list
    body: dict[str, Any] = {"schemas": schemas}
    if LIST_RESPONSE in schemas:
        key = operation.value_path
        body["Operations"] = [_as_operation(role, key) for role in roles]
    else:
        body[operation.path] = roles

    headers = {"If-Match": change.version} if change.version else {}
    return ProvisioningRequest("PUT", _path(change), body, headers)


def _require_version(change: Change) -> None:
    # The PUT rewrites the user's roles: without If-Match it could undo a
    # role change made since the user was read.
    if change.version or change.operation.accept_unversioned_replace:
        return
    raise ProvisioningError(
        f"Zoom gave no version for user {change.user_id}: rewriting its roles "
        "could undo a change made meanwhile",
        hint="set acceptUnversionedReplace: true under the provider "
        "description's role entries to accept that risk",
    )


def _granted(change: Change) -> list[dict[str, Any]]:
    # A Zoom user holds exactly one role: granting one replaces the other.
    assert change.role is not None
    role: dict[str, Any] = {change.operation.value_path: change.role.value}
    if change.role.display:
        role["display"] = change.role.display
    role["primary"] = True
    return [role]


def _kept(change: Change) -> list[dict[str, Any]]:
    """The roles the user holds now, less the revoked one."""
    assert change.role is not None
    if change.current is None:
        raise ProvisioningError(
            f"revoking a Zoom role rewrites the roles of user {change.user_id}, "
            "and their current roles were not read",
            hint="removeUserRole with method PUT needs the user read first; "
            "this is a bug of the provisioning run, please report it",
        )
    key = change.operation.value_path
    held = _attribute(change.current, change.operation.path)
    return [
        role
        for role in held
        if not (isinstance(role, dict) and role.get(key) == change.role.value)
    ]


def _attribute(resource: dict[str, Any], name: str) -> list[Any]:
    # SCIM attribute names are case-insensitive (RFC 7643 §2.1).
    for key, value in resource.items():
        if key.lower() == name.lower() and isinstance(value, list):
            return value
    return []


def _as_operation(role: dict[str, Any], value_path: str) -> dict[str, Any]:
    value = role.get(value_path)
    return {"display": role.get("display") or value, "value": value}


def _path(change: Change) -> str:
    # Zoom user IDs such as "k&KdKr6TLWuxdDtk0hjSzL" must be escaped.
    if change.action.endswith("group"):
        return f"Groups/{quote(str(change.group_id), safe='')}"
    return f"Users/{quote(change.user_id, safe='')}"
