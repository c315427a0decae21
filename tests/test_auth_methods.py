"""Each authentication method of the guide works from flags and from variables.

The SCIM service is a real scim2-server behind an ``AuthGate`` that admits
only the exact header of the method under test; client credentials are
checked, request by request, by a ``TokenServer`` of the exact shape.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from baton_scim_generic_yaml import example_path

from tests.support.auth_server import (
    AuthGate,
    IssuedTokens,
    TokenRequestShape,
    TokenServer,
    basic_credentials,
    exact_header,
    gated_server,
    write_description,
)
from tests.support.cli import run_cli
from tests.support.scim_server import Directory, ScimServer, seed_directory
from tests.support.snapshot import snapshot

ENV = {
    "--token": "BATON_TOKEN",
    "--api-key": "BATON_API_KEY",
    "--username": "BATON_USERNAME",
    "--password": "BATON_PASSWORD",
    "--scim-client-id": "BATON_SCIM_CLIENT_ID",
    "--scim-client-secret": "BATON_SCIM_CLIENT_SECRET",
    "--account-id": "BATON_ACCOUNT_ID",
    "--scim-config": "BATON_SCIM_CONFIG",
    "-f": "BATON_FILE",
}


@pytest.fixture(scope="module")
def service() -> Iterator[tuple[AuthGate, ScimServer, Directory]]:
    gate = AuthGate()
    with gated_server(gate) as server:
        yield gate, server, seed_directory(server, users=30, groups=4)


def _run(given: dict[str, str], how: str) -> Any:
    """Run a sync with these flags, as flags or as BATON_* variables."""
    if how == "flags":
        return run_cli(*[part for pair in given.items() for part in pair])
    return run_cli(env={ENV[flag]: value for flag, value in given.items()})


def _user_ids(path: Path) -> set[str]:
    return {r[1] for r in snapshot(path)["resources"] if r[0] == "user"}


def _assert_synced(result: Any, out: Path, directory: Directory) -> None:
    assert result.exit_code == 0, result.output
    assert _user_ids(out) == {user["id"] for user in directory.users}


def _secret(kind: str) -> str:
    return f"{kind}-{secrets.token_hex(10)}"


@pytest.mark.parametrize("how", ["flags", "env"])
def test_bearer_token_is_accepted_by_scim2_server(service, tmp_path, how):
    _, server, directory = service
    description = write_description(
        tmp_path / "d.yaml", server.url, {"authType": "oauth2"}
    )
    out = tmp_path / "sync.c1z"

    # The gate lets the server's own token through: scim2-server checks it.
    given = {"--scim-config": str(description), "--token": server.token}
    result = _run({**given, "-f": str(out)}, how)

    _assert_synced(result, out, directory)


@pytest.mark.parametrize("how", ["flags", "env"])
@pytest.mark.parametrize("prefix", ["Bearer", "SSWS", None])
def test_api_key_is_sent_with_its_prefix_or_bare(service, tmp_path, how, prefix):
    gate, server, directory = service
    key = _secret("key")
    expected = f"{prefix} {key}" if prefix else key
    gate.expect(exact_header(expected))
    auth = {"authType": "apiKey", **({"apiKeyPrefix": prefix} if prefix else {})}
    description = write_description(tmp_path / "d.yaml", server.url, auth)
    out = tmp_path / "sync.c1z"

    given = {"--scim-config": str(description), "--api-key": key, "-f": str(out)}
    result = _run(given, how)

    _assert_synced(result, out, directory)
    assert gate.seen and set(gate.seen) == {expected}


@pytest.mark.parametrize("how", ["flags", "env"])
def test_basic_authentication_sends_username_and_password(service, tmp_path, how):
    gate, server, directory = service
    password = _secret("pw")
    gate.expect(basic_credentials("auditor@example.com", password))
    description = write_description(
        tmp_path / "d.yaml", server.url, {"authType": "basic"}
    )
    out = tmp_path / "sync.c1z"

    given = {
        "--scim-config": str(description),
        "--username": "auditor@example.com",
        "--password": password,
        "-f": str(out),
    }
    result = _run(given, how)

    _assert_synced(result, out, directory)
    assert gate.seen and gate.refused == 0


def _token_auth(url: str, **token_request: Any) -> dict[str, Any]:
    auth: dict[str, Any] = {
        "authType": "oauth2",
        "shouldObtainToken": True,
        "authUrl": url,
        "tokenPath": "access_token",
    }
    if token_request:
        auth["tokenRequest"] = token_request
    return auth


@pytest.mark.parametrize("how", ["flags", "env"])
def test_zoom_account_credentials_request_is_exact(service, tmp_path, how):
    gate, server, directory = service
    client_secret = _secret("zoom-secret")
    shape = TokenRequestShape.zoom_s2s("zoom-client", client_secret, "acct-42")
    with TokenServer(shape) as tokens:
        gate.expect(IssuedTokens(tokens))
        auth = _token_auth(
            tokens.url,
            style="query",
            grantType="account_credentials",
            accountIdParam="account_id",
            clientAuth="basic",
        )
        description = write_description(tmp_path / "d.yaml", server.url, auth)
        out = tmp_path / "sync.c1z"

        given = {
            "--scim-config": str(description),
            "--scim-client-id": "zoom-client",
            "--scim-client-secret": client_secret,
            "--account-id": "acct-42",
            "-f": str(out),
        }
        result = _run(given, how)

    _assert_synced(result, out, directory)
    (request,) = tokens.requests
    assert request.method == "POST" and request.path == "/oauth/token"
    assert request.query_string == "grant_type=account_credentials&account_id=acct-42"
    assert request.header("authorization") == shape.basic_header()
    assert request.body == b""
    assert tokens.mismatches == []
    assert set(gate.seen) == {f"Bearer {tokens.issued[0]}"}


@pytest.mark.parametrize("how", ["flags", "env"])
def test_client_credentials_default_to_a_form_body_with_basic(service, tmp_path, how):
    gate, server, directory = service
    # RFC 6749 §2.3.1 form-encodes the id and secret inside Basic.
    client_secret = _secret("azure~secret/+=")
    shape = TokenRequestShape("app-id", client_secret)
    with TokenServer(shape) as tokens:
        gate.expect(IssuedTokens(tokens))
        auth = _token_auth(tokens.url)
        description = write_description(tmp_path / "d.yaml", server.url, auth)
        out = tmp_path / "sync.c1z"

        given = {
            "--scim-config": str(description),
            "--scim-client-id": "app-id",
            "--scim-client-secret": client_secret,
            "-f": str(out),
        }
        result = _run(given, how)

    _assert_synced(result, out, directory)
    (request,) = tokens.requests
    assert request.header("content-type") == "application/x-www-form-urlencoded"
    assert request.body == b"grant_type=client_credentials"
    assert tokens.mismatches == []


def test_client_credentials_in_a_json_body_with_scope(service, tmp_path):
    gate, server, directory = service
    client_secret = _secret("json-secret")
    shape = TokenRequestShape(
        "svc", client_secret, style="json", client_auth="body", scope="scim.read"
    )
    with TokenServer(shape, nest="data") as tokens:
        gate.expect(IssuedTokens(tokens))
        auth = _token_auth(
            tokens.url, style="json", clientAuth="body", scope="scim.read"
        )
        auth["tokenPath"] = "data.access_token"
        description = write_description(tmp_path / "d.yaml", server.url, auth)
        out = tmp_path / "sync.c1z"

        result = run_cli(
            "--scim-config",
            str(description),
            "--scim-client-id",
            "svc",
            "--scim-client-secret",
            client_secret,
            "-f",
            str(out),
        )

    _assert_synced(result, out, directory)
    (request,) = tokens.requests
    assert request.json == {
        "grant_type": "client_credentials",
        "scope": "scim.read",
        "client_id": "svc",
        "client_secret": client_secret,
    }
    assert request.header("authorization") is None
    assert tokens.mismatches == []


def test_a_provider_plugin_replaces_the_authentication(service, tmp_path):
    import asyncio

    import httpx
    from baton_scim.hookspecs import hookimpl
    from baton_scim.plugins import load_registry
    from baton_scim.provider import Credentials, Provider
    from baton_scim.runtime import prepare
    from baton_scim.settings import Settings
    from baton_scim.sync import sync_into
    from pydantic import SecretStr

    gate, server, directory = service
    key = _secret("vendor")
    gate.expect(exact_header(f"Vendor-Token key={key}"))

    class VendorAuth(httpx.Auth):
        def auth_flow(self, request):
            request.headers["Authorization"] = f"Vendor-Token key={key}"
            yield request

    class Hooks:
        @hookimpl
        def baton_scim_auth(self, provider, credentials):
            return VendorAuth()

    class Plugin:
        @hookimpl
        def baton_scim_providers(self):
            text = write_description(
                tmp_path / "d.yaml", server.url, {"authType": "apiKey"}
            ).read_text()
            return [
                Provider(
                    name="vendor",
                    description="a vendor with its own header",
                    load_description=lambda request: (text, "vendor.yaml"),
                    source="this test",
                    hooks=Hooks(),
                )
            ]

    out = tmp_path / "sync.c1z"
    settings = Settings(
        service_provider="vendor",
        credentials=Credentials(api_key=SecretStr(key)),
        file=out,
    )
    context = prepare(settings, load_registry(extra=[Plugin()]))
    asyncio.run(sync_into(context, settings))

    assert isinstance(context.options["auth"], VendorAuth)
    assert _user_ids(out) == {user["id"] for user in directory.users}
    assert set(gate.seen) == {f"Vendor-Token key={key}"}


# -- The guide's command lines, run as written ---------------------------------


def _guide_run(command: str, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run one of the guide's lines: VAR=value words, then baton-scim and flags."""
    words = command.split()
    env = dict(word.split("=", 1) for word in words[: words.index("baton-scim")])
    flags = words[words.index("baton-scim") + 1 :]
    monkeypatch.chdir(cwd)
    return run_cli(*flags, env=env)


BASIC_LINES = [
    "baton-scim --username=YOUR_USERNAME --password=YOUR_PASSWORD "
    "--scim-config=./custom-provider.yaml",
    "BATON_USERNAME=YOUR_USERNAME BATON_PASSWORD=YOUR_PASSWORD "
    "BATON_SCIM_CONFIG=./custom-provider.yaml baton-scim",
]


@pytest.mark.parametrize("line", BASIC_LINES, ids=["flags", "env"])
def test_guide_basic_authentication_lines_run_as_written(
    service, tmp_path, monkeypatch, line
):
    gate, server, directory = service
    gate.expect(basic_credentials("YOUR_USERNAME", "YOUR_PASSWORD"))
    write_description(
        tmp_path / "custom-provider.yaml", server.url, {"authType": "basic"}
    )

    result = _guide_run(line, tmp_path, monkeypatch)

    _assert_synced(result, tmp_path / "sync.c1z", directory)
    assert gate.seen and gate.refused == 0


AZURE_LINES = [
    "baton-scim --scim-client-id=your-client-id "
    "--scim-client-secret=your-client-secret --scim-config=./azure.yaml",
    "BATON_SCIM_CLIENT_ID=your-client-id BATON_SCIM_CLIENT_SECRET=your-client-secret "
    "BATON_SCIM_CONFIG=./azure.yaml baton-scim",
]


def _azure_description(path: Path, endpoint: str, token_url: str) -> None:
    """The shipped Azure AD example, its two URLs pointed at local servers."""
    data = yaml.safe_load(example_path("azure-ad").read_text())
    data["apiEndpoint"] = endpoint
    data["auth"]["authUrl"] = token_url
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.mark.parametrize("line", AZURE_LINES, ids=["flags", "env"])
def test_guide_client_credentials_lines_run_as_written(
    service, tmp_path, monkeypatch, line
):
    gate, server, directory = service
    # Entra ID reads the client credentials and scope from the form body.
    shape = TokenRequestShape(
        "your-client-id",
        "your-client-secret",
        client_auth="body",
        scope="https://graph.microsoft.com/.default",
    )
    with TokenServer(shape) as tokens:
        gate.expect(IssuedTokens(tokens))
        _azure_description(tmp_path / "azure.yaml", server.url, tokens.url)

        result = _guide_run(line, tmp_path, monkeypatch)

    _assert_synced(result, tmp_path / "sync.c1z", directory)
    assert len(tokens.requests) == 1 and tokens.mismatches == []


ZOOM_SHAPED_LINES = [
    "baton-scim --scim-client-id=YOUR_CLIENT_ID --scim-client-secret=YOUR_CLIENT_SECRET"
    " --account-id=YOUR_ACCOUNT_ID --scim-config=./zoom-like.yaml",
    "BATON_SCIM_CLIENT_ID=YOUR_CLIENT_ID BATON_SCIM_CLIENT_SECRET=YOUR_CLIENT_SECRET "
    "BATON_ACCOUNT_ID=YOUR_ACCOUNT_ID BATON_SCIM_CONFIG=./zoom-like.yaml baton-scim",
]


@pytest.mark.parametrize("line", ZOOM_SHAPED_LINES, ids=["flags", "env"])
def test_guide_account_credentials_lines_run_with_a_custom_description(
    service, tmp_path, monkeypatch, line
):
    gate, server, directory = service
    shape = TokenRequestShape.zoom_s2s(
        "YOUR_CLIENT_ID", "YOUR_CLIENT_SECRET", "YOUR_ACCOUNT_ID"
    )
    with TokenServer(shape) as tokens:
        gate.expect(IssuedTokens(tokens))
        auth = _token_auth(
            tokens.url,
            style="query",
            grantType="account_credentials",
            accountIdParam="account_id",
            clientAuth="basic",
        )
        write_description(tmp_path / "zoom-like.yaml", server.url, auth)

        result = _guide_run(line, tmp_path, monkeypatch)

    _assert_synced(result, tmp_path / "sync.c1z", directory)
    assert len(tokens.requests) == 1 and tokens.mismatches == []


API_KEY_LINES = [
    "baton-scim --api-key=your-api-key --scim-config=./config.yaml",
    # The docker line's variables and -f, without docker.
    "BATON_API_KEY=your-api-key BATON_SCIM_CONFIG=./config.yaml baton-scim "
    "-f ./out/sync.c1z",
]


@pytest.mark.parametrize("line", API_KEY_LINES, ids=["flags", "env"])
def test_guide_running_lines_with_a_custom_configuration(
    service, tmp_path, monkeypatch, line
):
    gate, server, directory = service
    gate.expect(exact_header("Bearer your-api-key"))
    auth = {"authType": "apiKey", "apiKeyPrefix": "Bearer"}
    write_description(tmp_path / "config.yaml", server.url, auth)
    (tmp_path / "out").mkdir()

    result = _guide_run(line, tmp_path, monkeypatch)

    out = tmp_path / ("out/sync.c1z" if "-f" in line else "sync.c1z")
    _assert_synced(result, out, directory)
