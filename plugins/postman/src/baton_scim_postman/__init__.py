"""Postman's SCIM API as the ``postman`` provider."""

from __future__ import annotations

from baton_scim.hookspecs import hookimpl
from baton_scim.provider import Provider, read_package_description

from . import hooks


@hookimpl
def baton_scim_providers() -> list[Provider]:
    return [
        Provider(
            name="postman",
            description="Postman SCIM API (Enterprise teams): users and groups",
            load_description=read_package_description(__name__, "postman.yaml"),
            source="built in: baton_scim_postman/postman.yaml",
            hooks=hooks,
        )
    ]
