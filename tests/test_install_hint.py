"""The package suggested for a provider that is not installed.

Plugins are published as ``baton-scim-<name>`` (docs/plugins.md, "Publish
it"); a provider named after an API version of another (``slack-v1``)
ships in that other's package, so the hint drops a ``-v<number>`` ending.
The core keeps no list of providers for this.
"""

from __future__ import annotations

import pytest
from baton_scim.errors import ProviderNotFound
from baton_scim.plugins import Registry, package_for


@pytest.mark.parametrize(
    ("name", "package"),
    [
        ("slack-v1", "baton-scim-slack"),
        ("slack", "baton-scim-slack"),
        ("zoom", "baton-scim-zoom"),
        ("acme-hr", "baton-scim-acme-hr"),
        ("acme-v2", "baton-scim-acme"),
        ("acme-hr-v10", "baton-scim-acme-hr"),
        ("v1", "baton-scim-v1"),
        ("acme-v1beta", "baton-scim-acme-v1beta"),
    ],
)
def test_package_is_named_after_the_provider_without_its_api_version(
    name: str, package: str
) -> None:
    assert package_for(name) == package


def test_slack_v1_missing_asks_for_the_slack_package() -> None:
    with pytest.raises(ProviderNotFound) as caught:
        Registry({}).get("slack-v1")

    assert caught.value.message == (
        "no provider called 'slack-v1' is installed (installed: none)"
    )
    assert caught.value.hint == (
        "pip install baton-scim-slack, or pass --scim-config FILE"
    )
