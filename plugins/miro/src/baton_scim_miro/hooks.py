"""Hooks of the ``miro`` provider: typed roles and safe team removals.

Facts come from docs/providers.md §2.3 of the project and Miro's user
PATCH reference (the ``PatchUserResource`` model of Miro's API clients):

- a user holds one *organization user role* (``type:
  organization_user_role``, ``ORGANIZATION_INTERNAL_USER`` or
  ``ORGANIZATION_INTERNAL_ADMIN``), changed by replacing
  ``roles[primary eq true].value``, and any number of *organization admin
  roles* (``type: organization_admin_role``: Content Admin, User Admin...),
  added with ``add roles`` and removed with a value filter;
- removing someone from a team (a SCIM group) also takes them off every
  board of that team; a ``replace`` of the member list does that to anyone
  it leaves out, including members added meanwhile, so it is never sent.
"""

from __future__ import annotations

from typing import Any

from baton_scim.errors import ProvisioningError
from baton_scim.hookspecs import hookimpl
from baton_scim.provider import ProviderContext
from baton_scim.provisioning import Change, ProvisioningRequest, default_request
from baton_scim.records import RoleRef

USER_ROLE = "organization_user_role"
ADMIN_ROLE = "organization_admin_role"
INTERNAL_ADMIN = "ORGANIZATION_INTERNAL_ADMIN"
INTERNAL_USER = "ORGANIZATION_INTERNAL_USER"
USER_ROLE_VALUES = frozenset({INTERNAL_ADMIN, INTERNAL_USER})
# Miro's documented way to change the one organization user role.
PRIMARY_ROLE_PATH = "roles[primary eq true].value"


@hookimpl
def baton_scim_provisioning_request(
    provider: ProviderContext, change: Change
) -> ProvisioningRequest | None:
    if change.action == "remove_user_from_group":
        _refuse_replace(change)
        return default_request(provider, change)
    if change.action == "add_user_role":
        return _grant_role(change)
    if change.action == "remove_user_role":
        return _revoke_role(change)
    return None


def _refuse_replace(change: Change) -> None:
    if change.operation.op.lower() == "remove":
        return
    raise ProvisioningError(
        f"removeUserFromGroup uses op {change.operation.op!r}: on Miro a "
        "replace of the member list takes everyone it leaves out off all the "
        "team's boards",
        hint="set op: remove in the provider description's removeUserFromGroup",
    )


def role_type(role: RoleRef) -> str:
    """The role's Miro type; inferred from the value when the grant lacks it."""
    if role.type:
        return role.type
    return USER_ROLE if role.value in USER_ROLE_VALUES else ADMIN_ROLE


def _grant_role(change: Change) -> ProvisioningRequest:
    role = _role(change)
    if role_type(role) == USER_ROLE:
        return _set_user_role(change, role.value)

    item = {
        change.operation.value_path: role.value,
        "type": ADMIN_ROLE,
        "primary": False,
    }
    operation = {"op": "add", "path": change.operation.path, "value": [item]}
    return _patch(change, operation)


def _revoke_role(change: Change) -> ProvisioningRequest:
    role = _role(change)
    kind = role_type(role)
    if kind == USER_ROLE:
        return _demote(change, role.value)

    # The type in the filter keeps the user role out of reach whatever its value.
    operation = change.operation
    test = f"{operation.value_path} eq {_quoted(role.value)}"
    path = f"{operation.path}[{test} and type eq {_quoted(kind)}]"
    return _patch(change, {"op": "remove", "path": path})


def _demote(change: Change, value: str) -> ProvisioningRequest:
    # Every Miro user holds one organization user role: revoking the admin
    # one leaves the user role, and the user role itself cannot go.
    if value == INTERNAL_ADMIN:
        return _set_user_role(change, INTERNAL_USER)
    raise ProvisioningError(
        f"Miro users always hold an organization user role; {value} cannot be "
        f"revoked from user {change.user_id}",
        hint="grant ORGANIZATION_INTERNAL_ADMIN to promote the user, or "
        "deactivate the user in Miro to take their access away",
    )


def _set_user_role(change: Change, value: str) -> ProvisioningRequest:
    operation = {"op": "replace", "path": PRIMARY_ROLE_PATH, "value": value}
    return _patch(change, operation)


def _patch(change: Change, operation: dict[str, Any]) -> ProvisioningRequest:
    body = {"schemas": change.operation.schema_list, "Operations": [operation]}
    return ProvisioningRequest("PATCH", change.target_path, body)


def _role(change: Change) -> RoleRef:
    if change.role is None:
        raise ProvisioningError(
            f"a {change.action} change names no role",
            hint="this is a bug of the provisioning run, please report it",
        )
    return change.role


def _quoted(value: str) -> str:
    # RFC 7644 §3.4.2.2: a filter's string literal is JSON-escaped.
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
