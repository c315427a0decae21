"""Credentials that do not fit the auth type stop the run before any request.

The rules (baton_scim/auth.py): basic needs --username and --password;
oauth2 takes --token (else --api-key), apiKey takes --api-key (else
--token); with shouldObtainToken, --scim-client-id and --scim-client-secret
(and --account-id when the token request carries one) obtain the token, or
a token obtained elsewhere is used. Given but unused credentials are named
in a warning.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from baton_scim.auth import ClientCredentialsAuth, build_auth, choose_method
from baton_scim.config import AuthConfig, ProviderConfig
from baton_scim.errors import ConfigError, CredentialsError
from baton_scim.plugins import run_context
from baton_scim.provider import Credentials, Provider
from pydantic import SecretStr

from tests.support.auth_server import RecordingServer, write_description
from tests.support.cli import run_cli

TOKEN_AUTH = {
    "authType": "oauth2",
    "shouldObtainToken": True,
    "authUrl": "http://127.0.0.1:9/oauth/token",
    "tokenPath": "access_token",
}
ZOOM_AUTH = {
    **TOKEN_AUTH,
    "tokenRequest": {
        "style": "query",
        "grantType": "account_credentials",
        "accountIdParam": "account_id",
    },
}


def _credentials(**given: str) -> Credentials:
    secret_fields = {"token", "api_key", "password", "client_secret"}
    values: dict[str, Any] = {
        name: SecretStr(value) if name in secret_fields else value
        for name, value in given.items()
    }
    return Credentials(**values)


def _config(auth: dict[str, Any]) -> AuthConfig:
    return AuthConfig.model_validate(auth)


# -- Which method, and what is missing -----------------------------------------


@pytest.mark.parametrize(
    ("auth", "given", "kind", "used"),
    [
        ({"authType": "oauth2"}, {"token": "t1234"}, "bearer", ("--token",)),
        ({"authType": "oauth2"}, {"api_key": "k1234"}, "bearer", ("--api-key",)),
        ({"authType": "apiKey"}, {"api_key": "k1234"}, "api_key", ("--api-key",)),
        ({"authType": "apiKey"}, {"token": "t1234"}, "api_key", ("--token",)),
        (
            {"authType": "apiKey"},
            {"token": "t1234", "api_key": "k1234"},
            "api_key",
            ("--api-key",),
        ),
        (
            {"authType": "basic"},
            {"username": "u", "password": "p1234"},
            "basic",
            ("--username", "--password"),
        ),
        (
            TOKEN_AUTH,
            {"client_id": "c", "client_secret": "s1234"},
            "client_credentials",
            ("--scim-client-id", "--scim-client-secret"),
        ),
        (
            ZOOM_AUTH,
            {"client_id": "c", "client_secret": "s1234", "account_id": "a"},
            "client_credentials",
            ("--scim-client-id", "--scim-client-secret", "--account-id"),
        ),
        # A token obtained elsewhere serves a description that obtains one.
        (ZOOM_AUTH, {"api_key": "k1234"}, "bearer", ("--api-key",)),
    ],
)
def test_each_auth_type_takes_its_credentials(auth, given, kind, used):
    method = choose_method("custom", _config(auth), _credentials(**given))

    assert (method.kind, method.used) == (kind, used)


@pytest.mark.parametrize(
    ("auth", "given", "words"),
    [
        ({"authType": "oauth2"}, {}, ["--token (BATON_TOKEN)", "BATON_API_KEY"]),
        ({"authType": "apiKey"}, {}, ["--api-key (BATON_API_KEY)", "BATON_TOKEN"]),
        ({"authType": "basic"}, {"username": "u"}, ["--password (BATON_PASSWORD)"]),
        (
            {"authType": "basic"},
            {"password": "p1234"},
            ["--username (BATON_USERNAME)"],
        ),
        (
            {"authType": "basic"},
            {"token": "t1234"},
            ["--username (BATON_USERNAME) and --password (BATON_PASSWORD)"],
        ),
        (
            {"authType": "basic"},
            {"username": "a:b", "password": "p1234"},
            ["--username", "':'"],
        ),
        (
            TOKEN_AUTH,
            {"client_id": "c"},
            ["--scim-client-secret (BATON_SCIM_CLIENT_SECRET)"],
        ),
        (
            TOKEN_AUTH,
            {"client_secret": "s1234", "token": "t1234"},
            ["--scim-client-id (BATON_SCIM_CLIENT_ID)"],
        ),
        (TOKEN_AUTH, {}, ["--scim-client-id", "--scim-client-secret"]),
        (
            ZOOM_AUTH,
            {"client_id": "c", "client_secret": "s1234"},
            ["--account-id (BATON_ACCOUNT_ID)"],
        ),
        (
            {"authType": "oauth2"},
            {"client_id": "c", "client_secret": "s1234"},
            ["shouldObtainToken is false", "--scim-client-id"],
        ),
    ],
)
def test_missing_credentials_name_the_flag_and_variable(auth, given, words):
    with pytest.raises(CredentialsError) as caught:
        choose_method("custom", _config(auth), _credentials(**given))

    for word in words:
        assert word in str(caught.value)


def _context(auth: dict[str, Any], endpoint: str = "http://127.0.0.1:9/v2/"):
    data: dict[str, Any] = {
        "apiEndpoint": endpoint,
        "hasScimHeader": True,
        "auth": auth,
        "user": {
            "id": "id",
            "userName": "userName",
            "firstName": "name.givenName",
            "lastName": "name.familyName",
            "primaryEmail": "emails[0].value",
            "active": "active",
        },
        "group": {"id": "id", "displayName": "displayName"},
        "pagination": {
            "totalResults": "totalResults",
            "itemsPerPage": "itemsPerPage",
            "startIndex": "startIndex",
        },
    }
    provider = Provider("custom", "", lambda request: ("", ""), "test")
    return run_context(provider, ProviderConfig.model_validate(data), Credentials())


@pytest.mark.parametrize(
    ("auth", "given", "ignored"),
    [
        (
            {"authType": "basic"},
            {"username": "u", "password": "p1234", "token": "t1234"},
            ["--token (BATON_TOKEN)"],
        ),
        (
            {"authType": "apiKey"},
            {"token": "t1234", "api_key": "k1234"},
            ["--token (BATON_TOKEN)"],
        ),
        (
            TOKEN_AUTH,
            {"client_id": "c", "client_secret": "s1234", "account_id": "a"},
            ["--account-id (BATON_ACCOUNT_ID)"],
        ),
        (
            TOKEN_AUTH,
            {"client_id": "c", "client_secret": "s1234", "token": "t1234"},
            ["--token (BATON_TOKEN)"],
        ),
        (
            {"authType": "oauth2"},
            {"token": "t1234", "username": "u", "password": "p1234"},
            ["--username (BATON_USERNAME)", "--password (BATON_PASSWORD)"],
        ),
    ],
)
def test_unused_credentials_are_named_in_a_warning(auth, given, ignored, caplog):
    context = _context(auth)

    with caplog.at_level(logging.WARNING, logger="baton_scim"):
        build_auth(context, _credentials(**given))

    (warning,) = [r.getMessage() for r in caplog.records if "ignoring" in r.message]
    for flag in ignored:
        assert flag in warning


def test_fitting_credentials_give_no_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="baton_scim"):
        build_auth(_context({"authType": "oauth2"}), _credentials(token="t1234"))

    assert caplog.records == []


@pytest.mark.parametrize("flag", ["token", "password", "client_secret", "username"])
def test_a_value_with_a_line_break_is_refused_without_showing_it(flag):
    given = {"username": "u", "password": "p1234", "client_id": "c"}
    given[flag] = "line-one-q7Zx9\n"
    context = _context({"authType": "basic"})

    with pytest.raises(CredentialsError) as caught:
        build_auth(context, _credentials(**given))

    assert "line break" in str(caught.value)
    assert "q7Zx9" not in str(caught.value)


def test_a_query_token_request_cannot_carry_the_client_secret():
    # RFC 6749 §2.3.1: client credentials never go in the request URI.
    auth = {**TOKEN_AUTH, "tokenRequest": {"style": "query", "clientAuth": "body"}}

    with pytest.raises(ConfigError, match="client secret in the URL"):
        ClientCredentialsAuth(_config(auth), "c", SecretStr("s1234"))


def test_cleartext_credentials_to_a_remote_host_are_warned_about(caplog):
    context = _context({"authType": "oauth2"}, "http://scim.example.com/v2/")

    with caplog.at_level(logging.WARNING, logger="baton_scim"):
        build_auth(context, _credentials(token="t1234"))

    assert "without TLS" in caplog.text and "scim.example.com" in caplog.text


# -- From the command line: one line, exit 2, nothing sent ---------------------


@pytest.fixture
def recorder():
    with RecordingServer() as server:
        yield server


def _one_error(result: Any) -> str:
    errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.output
    return errors[0]


@pytest.mark.parametrize(
    ("auth", "args", "env", "words"),
    [
        (
            {"authType": "basic"},
            ["--username", "ops"],
            {},
            ["--password (BATON_PASSWORD)"],
        ),
        (
            {"authType": "basic"},
            [],
            {"BATON_PASSWORD": "pw-1234"},
            ["--username (BATON_USERNAME)"],
        ),
        (
            TOKEN_AUTH,
            ["--scim-client-id", "app"],
            {},
            ["--scim-client-secret (BATON_SCIM_CLIENT_SECRET)"],
        ),
        (
            ZOOM_AUTH,
            [],
            {"BATON_SCIM_CLIENT_ID": "c", "BATON_SCIM_CLIENT_SECRET": "s-1234"},
            ["--account-id (BATON_ACCOUNT_ID)"],
        ),
        ({"authType": "apiKey"}, [], {}, ["--api-key (BATON_API_KEY)"]),
    ],
)
def test_cli_stops_before_any_request_when_credentials_do_not_fit(
    recorder, tmp_path: Path, auth, args, env, words
):
    description = write_description(tmp_path / "d.yaml", recorder.origin, auth)
    out = tmp_path / "sync.c1z"

    result = run_cli("--scim-config", str(description), "-f", str(out), *args, env=env)

    assert result.exit_code == 2
    line = _one_error(result)
    for word in words:
        assert word in line
    assert recorder.requests == []
    assert not out.exists()


def test_cli_warns_about_ignored_credentials_and_goes_on(recorder, tmp_path):
    auth = {"authType": "oauth2"}
    description = write_description(tmp_path / "d.yaml", recorder.origin, auth)

    result = run_cli(
        "--scim-config",
        str(description),
        "--token",
        "tok-1234",
        "--log-format",
        "console",
        "-f",
        str(tmp_path / "sync.c1z"),
        env={"BATON_USERNAME": "ops", "BATON_PASSWORD": "pw-never-used"},
    )

    assert "ignoring --username (BATON_USERNAME), --password (BATON_PASSWORD)" in (
        result.stderr
    )
    assert "pw-never-used" not in result.output
    assert recorder.requests  # the sync did start
