"""Zoom's SCIM2 API as the ``zoom`` provider."""

from __future__ import annotations

from baton_scim.hookspecs import hookimpl
from baton_scim.provider import Provider, read_package_description

from . import hooks


@hookimpl
def baton_scim_providers() -> list[Provider]:
    return [
        Provider(
            name="zoom",
            description="Zoom SCIM2 API, with Server-to-Server OAuth or a token",
            load_description=read_package_description(__name__, "zoom.yaml"),
            source="built in: baton_scim_zoom/zoom.yaml",
            hooks=hooks,
        )
    ]
