"""Miro's SCIM API as the ``miro`` provider."""

from __future__ import annotations

from baton_scim.hookspecs import hookimpl
from baton_scim.provider import Provider, read_package_description

from . import hooks


@hookimpl
def baton_scim_providers() -> list[Provider]:
    return [
        Provider(
            name="miro",
            description="Miro SCIM API (Enterprise plan): teams and typed roles",
            load_description=read_package_description(__name__, "miro.yaml"),
            source="built in: baton_scim_miro/miro.yaml",
            hooks=hooks,
        )
    ]
