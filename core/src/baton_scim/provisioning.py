"""Grant and revoke: group membership and role assignment over SCIM PATCH.

The request shapes come from the description's ``provisioning`` section;
a provider plugin replaces them through ``baton_scim_provisioning_request``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .config import PatchOperation
from .provider import ProviderContext
from .records import RoleRef

Action = Literal[
    "add_user_to_group", "remove_user_from_group", "add_user_role", "remove_user_role"
]


@dataclass(frozen=True)
class Change:
    """One access change to carry out.

    ``current`` is the target resource as last read and ``version`` its
    ETag, for removals that must rewrite a list (``op: replace``).
    """

    action: Action
    user_id: str
    operation: PatchOperation
    group_id: str | None = None
    role: RoleRef | None = None
    current: dict[str, Any] | None = None
    version: str | None = None

    @property
    def target_path(self) -> str:
        """The resource the request is sent to."""
        if self.action.endswith("group"):
            return f"Groups/{self.group_id}"
        return f"Users/{self.user_id}"


@dataclass(frozen=True)
class ProvisioningRequest:
    """The HTTP request that carries out one change."""

    method: str
    path: str
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def default_request(
    provider: ProviderContext, change: Change
) -> ProvisioningRequest | None:
    """The RFC 7644 PatchOp request for a change, shaped by the description."""
    operation = change.operation
    value = _value(change, operation)
    op = operation.op.lower()
    if op == "remove" and operation.remove_form == "filter":
        path = f'{operation.path}[{operation.value_path} eq "{_escape(value)}"]'
        ops: list[dict[str, Any]] = [{"op": "remove", "path": path}]
    else:
        ops = [
            {"op": op, "path": operation.path, "value": [{operation.value_path: value}]}
        ]
    body = {"schemas": operation.schema_list, "Operations": ops}
    return ProvisioningRequest(operation.method, change.target_path, body)


def _value(change: Change, operation: PatchOperation) -> str:
    if change.action.endswith("group"):
        return change.user_id
    assert change.role is not None
    return change.role.value


def _escape(value: str) -> str:
    # RFC 7644 §3.4.2.2: a filter's string literal is JSON-escaped.
    return value.replace("\\", "\\\\").replace('"', '\\"')
