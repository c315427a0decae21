"""Hooks of the ``postman`` provider.

Postman's SCIM API has no roles: new users get the developer role and
roles change in Postman itself (docs/providers.md §2.4). Its description
therefore maps no roles and has no role provisioning entries; this hook
refuses a role change outright should one reach it anyway, for instance
through a replacement description.
"""

from __future__ import annotations

from baton_scim.errors import ProvisioningError
from baton_scim.hookspecs import hookimpl
from baton_scim.provider import ProviderContext
from baton_scim.provisioning import Change, ProvisioningRequest


@hookimpl
def baton_scim_provisioning_request(
    provider: ProviderContext, change: Change
) -> ProvisioningRequest | None:
    if change.action in ("add_user_role", "remove_user_role"):
        raise ProvisioningError(
            "Postman's SCIM API has no roles; a role cannot be granted or "
            "revoked through it",
            hint="change the user's role in Postman's team settings",
        )
    return None
