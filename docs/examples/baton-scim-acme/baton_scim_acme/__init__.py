"""Acme HR for baton-scim: one provider, described in acme.yaml."""

from baton_scim.hookspecs import hookimpl
from baton_scim.provider import Provider, read_package_description


@hookimpl
def baton_scim_providers() -> list[Provider]:
    return [
        Provider(
            name="acme",
            description="Acme HR's SCIM 2.0 API",
            load_description=read_package_description(__name__, "acme.yaml"),
            source="built in: baton_scim_acme/acme.yaml",
        )
    ]
