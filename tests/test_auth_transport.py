"""Transport safety: TLS verified (with --ca-bundle), credentials stay home.

The TLS service is scim2-server served over TLS with a certificate made
for the test by ``openssl``: a private CA, as on-premises SCIM services
and corporate TLS proxies have.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from baton_scim.auth import BasicAuth, HeaderAuth, trust_context
from baton_scim.errors import ConfigError, ProtocolError
from baton_scim.settings import Settings
from pydantic import SecretStr

from tests.support.auth_server import (
    AuthGate,
    IssuedTokens,
    LocalServer,
    RecordingServer,
    TlsFiles,
    TokenRequestShape,
    TokenServer,
    exact_header,
    gated_server,
    redirector,
    self_signed_certificate,
    write_description,
)
from tests.support.cli import run_cli
from tests.support.scim_server import Directory, ScimServer, seed_directory
from tests.support.snapshot import snapshot

needs_openssl = pytest.mark.skipif(
    shutil.which("openssl") is None, reason="the openssl command makes the certificate"
)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> TlsFiles:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_service(certificate) -> Iterator[tuple[AuthGate, str, Directory]]:
    """The gated scim2-server on plain HTTP (for seeding) and over TLS."""
    gate = AuthGate()
    with gated_server(gate) as server:
        directory = seed_directory(server, users=12, groups=3)
        with LocalServer(server.app, tls=certificate) as tls:
            yield gate, f"{tls.origin}/v2", directory


def _one_error(result: Any) -> str:
    assert result.exit_code != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.output
    return errors[0]


def _users(out: Path) -> set[str]:
    return {r[1] for r in snapshot(out)["resources"] if r[0] == "user"}


def _bearer_sync(description: Path, out: Path, token: str, *extra: str, env=None):
    return run_cli(
        "--scim-config",
        str(description),
        "--token",
        token,
        "-f",
        str(out),
        *extra,
        env=env,
    )


@needs_openssl
def test_a_private_ca_is_refused_with_a_clear_tls_message(tls_service, tmp_path):
    gate, url, _ = tls_service
    token = f"tok-{secrets.token_hex(8)}"
    gate.expect(exact_header(f"Bearer {token}"))
    description = write_description(tmp_path / "d.yaml", url, {"authType": "oauth2"})

    result = _bearer_sync(description, tmp_path / "sync.c1z", token)

    line = _one_error(result)
    assert "TLS certificate verification failed" in line
    assert "--ca-bundle" in line
    assert gate.seen == []  # not one request got through the handshake
    assert not (tmp_path / "sync.c1z").exists()


@needs_openssl
@pytest.mark.parametrize("how", ["flag", "env"])
def test_a_ca_bundle_lets_the_sync_verify_the_service(
    tls_service, certificate, tmp_path, how
):
    gate, url, directory = tls_service
    token = f"tok-{secrets.token_hex(8)}"
    gate.expect(exact_header(f"Bearer {token}"))
    description = write_description(tmp_path / "d.yaml", url, {"authType": "oauth2"})
    out = tmp_path / "sync.c1z"
    bundle = str(certificate.certificate)

    if how == "flag":
        result = _bearer_sync(description, out, token, "--ca-bundle", bundle)
    else:
        result = _bearer_sync(description, out, token, env={"BATON_CA_BUNDLE": bundle})

    assert result.exit_code == 0, result.output
    assert _users(out) == {user["id"] for user in directory.users}


@needs_openssl
def test_the_token_endpoint_is_verified_with_the_same_bundle(
    tls_service, certificate, tmp_path
):
    gate, url, _ = tls_service
    secret = f"cs-{secrets.token_hex(8)}"
    shape = TokenRequestShape("tls-app", secret)
    with TokenServer(shape, tls=certificate) as tokens:
        gate.expect(IssuedTokens(tokens))
        auth = {
            "authType": "oauth2",
            "shouldObtainToken": True,
            "authUrl": tokens.url,
            "tokenPath": "access_token",
        }
        description = write_description(tmp_path / "d.yaml", url, auth)
        args = ["--scim-config", str(description), "--scim-client-id", "tls-app"]
        args += ["--scim-client-secret", secret]

        refused = run_cli(*args, "-f", str(tmp_path / "a.c1z"))
        verified = run_cli(
            *args,
            "-f",
            str(tmp_path / "b.c1z"),
            "--ca-bundle",
            str(certificate.certificate),
        )

    line = _one_error(refused)
    assert "cannot reach the token endpoint" in line
    assert "TLS certificate verification failed" in line
    assert verified.exit_code == 0, verified.output
    assert len(tokens.requests) == 1  # the refused handshake sent nothing


def test_a_missing_or_broken_ca_bundle_stops_before_any_request(tmp_path):
    broken = tmp_path / "broken.pem"
    broken.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n")
    with RecordingServer() as recorder:
        description = write_description(
            tmp_path / "d.yaml", recorder.origin, {"authType": "oauth2"}
        )
        for bundle, words in [
            (tmp_path / "absent.pem", "no such file"),
            (broken, "not a PEM bundle"),
        ]:
            result = _bearer_sync(
                description,
                tmp_path / "sync.c1z",
                "tok-1234",
                "--ca-bundle",
                str(bundle),
            )
            line = _one_error(result)
            assert result.exit_code == 2 and words in line and "--ca-bundle" in line
        assert recorder.requests == []


def test_tls_verification_is_on_by_default():
    assert Settings().verify is True
    with pytest.raises(ConfigError):
        trust_context(Path("/nonexistent/ca.pem"))


# -- Credentials never go to another origin ------------------------------------


@pytest.fixture(scope="module")
def service() -> Iterator[tuple[AuthGate, ScimServer]]:
    gate = AuthGate()
    with gated_server(gate) as server:
        seed_directory(server, users=5, groups=1)
        yield gate, server


METHODS = {
    "bearer": ({"authType": "oauth2"}, ["--token", "tok-{hex}"]),
    "api key": (
        {"authType": "apiKey", "apiKeyPrefix": "Key"},
        ["--api-key", "k-{hex}"],
    ),
    "basic": ({"authType": "basic"}, ["--username", "u", "--password", "pw-{hex}"]),
}


@pytest.mark.parametrize("method", sorted(METHODS))
def test_a_redirect_to_another_origin_carries_no_credentials(tmp_path, method):
    auth, args = METHODS[method]
    hexed = secrets.token_hex(8)
    args = [arg.format(hex=hexed) for arg in args]
    with (
        RecordingServer() as elsewhere,
        LocalServer(redirector(elsewhere.origin + "/v2")) as moved,
    ):
        description = write_description(tmp_path / "d.yaml", moved.origin + "/v2", auth)
        result = run_cli(
            "--scim-config", str(description), "-f", str(tmp_path / "s.c1z"), *args
        )

    line = _one_error(result)
    assert f"redirects to {elsewhere.origin}/v2/" in line
    assert "credentials never follow redirects" in line
    assert elsewhere.requests == []  # no Authorization header arrived there
    assert hexed not in result.output


def test_an_obtained_token_does_not_follow_a_redirect(tmp_path):
    secret = f"cs-{secrets.token_hex(8)}"
    with (
        RecordingServer() as elsewhere,
        LocalServer(redirector(elsewhere.origin + "/v2")) as moved,
        TokenServer(TokenRequestShape("app", secret)) as tokens,
    ):
        auth = {
            "authType": "oauth2",
            "shouldObtainToken": True,
            "authUrl": tokens.url,
            "tokenPath": "access_token",
        }
        description = write_description(tmp_path / "d.yaml", moved.origin + "/v2", auth)
        result = run_cli(
            "--scim-config",
            str(description),
            "--scim-client-id",
            "app",
            "--scim-client-secret",
            secret,
            "-f",
            str(tmp_path / "s.c1z"),
        )

    assert "redirects to" in _one_error(result)
    assert elsewhere.requests == []
    assert len(tokens.requests) == 1


@pytest.mark.parametrize(
    "auth",
    [
        HeaderAuth(
            "Bearer", SecretStr("tok-origin-1234"), "https://scim.example.test/v2/"
        ),
        BasicAuth("u", SecretStr("pw-origin-1234"), "https://scim.example.test/v2/"),
    ],
    ids=["header", "basic"],
)
def test_credentials_are_refused_for_a_url_outside_the_service(auth):
    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(200))
    with httpx.Client(auth=auth, transport=transport) as client:
        client.get("https://scim.example.test/v2/Users")
        with pytest.raises(ProtocolError, match="refusing to send credentials"):
            client.get("https://attacker.example.test/v2/Users")
        with pytest.raises(ProtocolError):
            client.get("http://scim.example.test/v2/Users")  # same host, no TLS

    assert [str(r.url) for r in sent] == ["https://scim.example.test/v2/Users"]
