"""The ``custom`` provider: a SCIM service described in a YAML file."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from baton_scim.hookspecs import hookimpl
from baton_scim.provider import Provider, read_file_description

EXAMPLES = ("okta", "azure-ad", "onelogin", "google-workspace")


def example_path(name: str) -> Path:
    """Where a ready-made example description is installed."""
    return Path(str(files(__name__).joinpath(f"examples/{name}.yaml")))


@hookimpl
def baton_scim_providers() -> list[Provider]:
    return [
        Provider(
            name="custom",
            description="Any SCIM 2.0 service described in a YAML file",
            load_description=read_file_description,
            source="the file given with --scim-config (BATON_SCIM_CONFIG)",
            needs_scim_config=True,
        )
    ]
