"""Hooks of the ``slack`` provider (``/scim/v2``).

Slack's SCIM 2.0 API takes RFC 7644 PatchOp bodies ("PATCH requests expect
a different request body that includes an 'Operations' field", Slack's list
of v2 changes), so the core's requests fit; this module only makes sure they
never go to the v1 endpoint, which would misread them.
"""

from __future__ import annotations

from baton_scim.hookspecs import hookimpl
from baton_scim.provider import ProviderContext
from baton_scim.provisioning import Change, ProvisioningRequest

from .versions import require_version


@hookimpl
def baton_scim_provisioning_request(
    provider: ProviderContext, change: Change
) -> ProvisioningRequest | None:
    require_version(provider, "v2")
    return None
