"""Slack's SCIM API as two providers: ``slack`` (SCIM 2.0) and ``slack-v1``.

Slack serves SCIM 2.0 at ``/scim/v2`` and SCIM 1.1 at ``/scim/v1``; the
two list users and groups alike but expect different PATCH bodies, so each
version is its own provider with its own description and hooks.
"""

from __future__ import annotations

from baton_scim.hookspecs import hookimpl
from baton_scim.provider import Provider, read_package_description

from . import v1, v2


@hookimpl
def baton_scim_providers() -> list[Provider]:
    return [
        Provider(
            name="slack",
            description="Slack SCIM 2.0 API (Business+ and Enterprise Grid)",
            load_description=read_package_description(__name__, "slack.yaml"),
            source="built in: baton_scim_slack/slack.yaml",
            hooks=v2,
        ),
        Provider(
            name="slack-v1",
            description="Slack SCIM 1.1 API (/scim/v1), with SCIM 1.1 PATCH bodies",
            load_description=read_package_description(__name__, "slack-v1.yaml"),
            source="built in: baton_scim_slack/slack-v1.yaml",
            hooks=v1,
        ),
    ]
