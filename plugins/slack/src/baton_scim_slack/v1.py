"""Hooks of the ``slack-v1`` provider (``/scim/v1``, SCIM 1.1).

SCIM 1.1 has no PatchOp: a PATCH body is a partial resource whose
multi-valued attributes are merged into the stored ones, and an item marked
``"operation": "delete"`` is taken out. Adding a member therefore sends
``{"schemas": [...], "members": [{"value": "U1"}]}`` and removing one adds
``"operation": "delete"`` to that item. Slack's own page on this body is
only available truncated (providers.md §2.1), so the shape is unverified
against the live API; the plugin README says so.
"""

from __future__ import annotations

from typing import Any

from baton_scim.errors import ProvisioningError
from baton_scim.hookspecs import hookimpl
from baton_scim.provider import ProviderContext
from baton_scim.provisioning import Change, ProvisioningRequest

from .versions import require_version


@hookimpl
def baton_scim_provisioning_request(
    provider: ProviderContext, change: Change
) -> ProvisioningRequest | None:
    require_version(provider, "v1")
    operation = change.operation
    item: dict[str, Any] = {operation.value_path: _value(change)}
    op = operation.op.lower()
    if op == "remove":
        item["operation"] = "delete"
    elif op != "add":
        raise ProvisioningError(
            f"slack-v1 cannot send op {operation.op!r}: SCIM 1.1 PATCH only "
            "adds items or deletes them",
            hint="set op to add or remove in the provider description",
        )

    body = {"schemas": operation.schema_list, operation.path: [item]}
    return ProvisioningRequest("PATCH", change.target_path, body)


def _value(change: Change) -> str:
    if change.role is not None and change.action.endswith("role"):
        return change.role.value
    return change.user_id
