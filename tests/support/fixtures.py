"""pytest fixtures that serve SCIM to the tests.

Load them from ``tests/conftest.py`` with
``pytest_plugins = ["tests.support.fixtures"]``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from .scim_server import ScimServer, SeededServer, seed_directory


@pytest.fixture
def scim_server() -> Iterator[ScimServer]:
    """A fresh, empty scim2-server for one test, with a random bearer token."""
    with ScimServer(f"test-token-{secrets.token_hex(8)}") as server:
        yield server


@pytest.fixture(scope="module")
def seeded_server() -> Iterator[SeededServer]:
    """A scim2-server seeded with the default directory, shared by a module.

    Tests that use it must not change it: start from ``scim_server`` to write.
    """
    with ScimServer(f"test-token-{secrets.token_hex(8)}") as server:
        yield SeededServer(server, seed_directory(server))
