"""The guide's example descriptions, shipped by generic-yaml, load and sync.

Each example runs as the guide's command line says, against the real
scim2-server (its endpoint replaced with --api-endpoint); the Azure AD one
obtains its token from a local token endpoint (--auth-url) with client
credentials, as Microsoft Entra ID hands them out.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from baton_scim.config import load_config_file
from baton_scim_generic_yaml import EXAMPLES, example_path

from tests.support.cli import run_cli
from tests.support.fake_scim import RecordedRequest
from tests.support.provider_fakes import TokenEndpoint
from tests.support.snapshot import snapshot

CLIENT_ID = "entra-app-client-id"
CLIENT_SECRET = "entra-app-client-secret"


def test_every_example_of_the_guide_is_shipped():
    assert set(EXAMPLES) == {"okta", "azure-ad", "onelogin", "google-workspace"}
    for name in EXAMPLES:
        assert example_path(name).is_file()


@pytest.mark.parametrize(
    ("name", "auth_type", "obtains_token"),
    [
        ("okta", "apiKey", False),
        ("onelogin", "apiKey", False),
        ("google-workspace", "oauth2", False),
        ("azure-ad", "oauth2", True),
    ],
)
def test_example_loads_with_the_guides_authentication(name, auth_type, obtains_token):
    config = load_config_file(example_path(name))

    assert config.auth.auth_type == auth_type
    assert config.auth.should_obtain_token is obtains_token
    assert config.group.members is not None
    assert config.provisioning is not None
    assert config.provisioning.add_user_to_group is not None
    assert config.provisioning.remove_user_from_group is not None
    assert config.provisioning.remove_user_from_group.op == "remove"


def entra_client(request: RecordedRequest) -> bool:
    """Entra reads the client credentials from the form body."""
    form = dict(parse_qsl(request.body.decode()))
    return (form.get("client_id"), form.get("client_secret")) == (
        CLIENT_ID,
        CLIENT_SECRET,
    )


def credentials_for(name: str, token: str) -> list[str]:
    """The guide's credential flags for each example."""
    if name in ("okta", "onelogin"):
        return [f"--api-key={token}"]
    if name == "google-workspace":
        return [f"--token={token}"]
    return [f"--scim-client-id={CLIENT_ID}", f"--scim-client-secret={CLIENT_SECRET}"]


def sync_example(name: str, server, out: Path, *extra: str):
    return run_cli(
        *credentials_for(name, server.token),
        f"--scim-config={example_path(name)}",
        f"--api-endpoint={server.url}",
        f"--file={out}",
        "--log-level=warn",
        *extra,
    )


def assert_whole_directory(out: Path, directory) -> None:
    snap = snapshot(out)
    users = {r[1] for r in snap["resources"] if r[0] == "user"}
    groups = {r[1] for r in snap["resources"] if r[0] == "group"}
    memberships = {(g[3], g[5]) for g in snap["grants"] if g[2] == "group"}

    assert users == {u["id"] for u in directory.users}
    assert groups == {g["id"] for g in directory.groups}
    assert memberships == {
        (g["id"], m["value"]) for g in directory.groups for m in g.get("members", [])
    }


@pytest.mark.parametrize("name", ["okta", "onelogin", "google-workspace"])
def test_example_with_a_given_token_syncs(name, seeded_server, tmp_path):
    server, directory = seeded_server
    out = tmp_path / "sync.c1z"

    result = sync_example(name, server, out)

    assert result.exit_code == 0, result.output
    assert_whole_directory(out, directory)


def test_azure_example_obtains_a_token_with_client_credentials(seeded_server, tmp_path):
    server, directory = seeded_server
    out = tmp_path / "sync.c1z"

    # The token endpoint hands out the bearer token the server expects.
    endpoint = TokenEndpoint(
        path="/tenant/oauth2/v2.0/token", token=server.token, accept=entra_client
    )
    with endpoint:
        result = sync_example("azure-ad", server, out, f"--auth-url={endpoint.url}")

    assert result.exit_code == 0, result.output
    [request] = endpoint.requests
    assert request.header("Content-Type") == "application/x-www-form-urlencoded"
    assert request.header("Authorization") is None
    assert dict(parse_qsl(request.body.decode())) == {
        "grant_type": "client_credentials",
        "scope": "https://graph.microsoft.com/.default",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    assert CLIENT_SECRET not in result.output
    assert_whole_directory(out, directory)
