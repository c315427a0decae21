"""The one-shot provisioning flags: --grant-entitlement and --revoke-grant."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ProvisioningError

if TYPE_CHECKING:
    from .app import State


def provision(
    state: State,
    *,
    grant_entitlement: str | None,
    grant_principal: str | None,
    grant_principal_type: str | None,
    revoke_grant: str | None,
) -> None:
    """Carry out one grant or revoke named by Baton IDs from the -f file."""
    raise ProvisioningError(
        "provisioning is not available in this build",
        hint="see issue 5",
    )
