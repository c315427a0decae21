"""Secrets never leave: not in logs at any level, errors, tracebacks or files.

Every method syncs, and fails, with ``--log-level debug`` in both log
formats, with distinctive secret values; the service that fails quotes the
credential it got back in its error (as verbose gateways do), so the
redaction is exercised rather than assumed. Nothing secret may appear in
stdout, stderr, the c1z bytes or the SQLite database inside it.
"""

from __future__ import annotations

import base64
import io
import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import httpx
import pytest
from baton_scim.auth import BasicAuth, ClientCredentialsAuth, HeaderAuth, build_auth
from baton_scim.c1z.container import read_c1z
from baton_scim.config import AuthConfig
from baton_scim.logs import REDACTED, Redactor, redactor, setup_logging
from baton_scim.provider import Credentials
from baton_scim.settings import Settings
from pydantic import SecretStr
from rich.console import Console
from rich.logging import RichHandler

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
from tests.support.scim_server import ScimServer, seed_directory


@pytest.fixture(scope="module")
def service() -> Iterator[tuple[AuthGate, ScimServer]]:
    gate = AuthGate()
    with gated_server(gate) as server:
        seed_directory(server, users=20, groups=3)
        yield gate, server


@dataclass
class Case:
    """One method's description, arguments and the strings that must not leak."""

    auth: dict[str, Any]
    args: list[str]
    forbidden: list[str] = field(default_factory=list)
    tokens: TokenServer | None = None


def _basic64(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def _case(method: str, gate: AuthGate, echo: int | None) -> Case:
    marker = secrets.token_hex(6)
    if method == "bearer":
        token = f"tok-SECRET-{marker}"
        gate.expect(exact_header(f"Bearer {token}"), echo)
        return Case({"authType": "oauth2"}, ["--token", token], [token])
    if method == "api key":
        key = f"key-SECRET-{marker}"
        gate.expect(exact_header(f"SSWS {key}"), echo)
        auth = {"authType": "apiKey", "apiKeyPrefix": "SSWS"}
        return Case(auth, ["--api-key", key], [key])
    password = f"pw-SECRET-{marker}"
    gate.expect(basic_credentials("ops@example.com", password), echo)
    args = ["--username", "ops@example.com", "--password", password]
    return Case(
        {"authType": "basic"}, args, [password, _basic64("ops@example.com", password)]
    )


def _client_case(gate: AuthGate, echo: int | None, refuse: bool) -> Case:
    # "/+=" make the form-encoded secret differ from the raw one.
    secret = f"cs-SECRET-{secrets.token_hex(6)}/+="
    shape = TokenRequestShape("sync-app", secret)
    tokens = TokenServer(shape, mode="refuse" if refuse else "issue", echo=True)
    gate.expect(IssuedTokens(tokens), echo)
    auth = {
        "authType": "oauth2",
        "shouldObtainToken": True,
        "authUrl": "",  # set once the server listens
        "tokenPath": "access_token",
    }
    args = ["--scim-client-id", "sync-app", "--scim-client-secret", secret]
    forbidden = [secret, quote_plus(secret), shape.basic_header().split()[1]]
    return Case(auth, args, forbidden, tokens)


def _decompressed(path: Path, tmp_path: Path) -> bytes:
    database = tmp_path / "inside.db"
    read_c1z(path, database)
    return database.read_bytes()


def _run(case: Case, server: ScimServer, tmp_path: Path, fmt: str) -> Any:
    description = write_description(tmp_path / "d.yaml", server.url, case.auth)
    return run_cli(
        "--scim-config",
        str(description),
        "-f",
        str(tmp_path / "sync.c1z"),
        "--log-level",
        "debug",
        "--log-format",
        fmt,
        *case.args,
    )


def _run_with_tokens(case: Case, server: ScimServer, tmp_path: Path, fmt: str):
    if case.tokens is None:
        return _run(case, server, tmp_path, fmt)
    with case.tokens as tokens:
        case.auth["authUrl"] = tokens.url
        result = _run(case, server, tmp_path, fmt)
    case.forbidden += tokens.issued  # obtained tokens are secrets too
    return result


def _assert_clean(case: Case, *texts: str | bytes) -> None:
    for secret in case.forbidden:
        for text in texts:
            found = (
                secret.encode() in text if isinstance(text, bytes) else secret in text
            )
            assert not found, f"{secret!r} leaked"


METHODS = ["bearer", "api key", "basic", "client credentials"]
FORMATS = ["console", "json"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("method", METHODS)
def test_a_debug_sync_leaks_no_secret(service, tmp_path, method, fmt):
    gate, server = service
    if method == "client credentials":
        case = _client_case(gate, None, refuse=False)
    else:
        case = _case(method, gate, None)

    result = _run_with_tokens(case, server, tmp_path, fmt)

    assert result.exit_code == 0, result.output
    assert "GET /v2/Users" in result.stderr  # debug logging did run
    assert "HTTP Request" not in result.stderr  # httpx stays quiet
    out = tmp_path / "sync.c1z"
    _assert_clean(
        case,
        result.stdout,
        result.stderr,
        out.read_bytes(),
        _decompressed(out, tmp_path),
    )


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("method", METHODS)
def test_a_failing_debug_sync_leaks_no_secret_even_when_echoed(
    service, tmp_path, method, fmt
):
    gate, server = service
    if method == "client credentials":
        case = _client_case(gate, 403, refuse=False)
    else:
        case = _case(method, gate, 403)

    result = _run_with_tokens(case, server, tmp_path, fmt)

    assert result.exit_code != 0
    assert "Traceback" in result.stderr  # debug shows the traceback...
    assert REDACTED in result.stderr  # ...and the echoed credential, scrubbed
    _assert_clean(case, result.stdout, result.stderr)
    assert not (tmp_path / "sync.c1z").exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_refused_token_request_leaks_no_client_secret(service, tmp_path, fmt):
    gate, server = service
    case = _client_case(gate, None, refuse=True)

    result = _run_with_tokens(case, server, tmp_path, fmt)

    assert result.exit_code != 0
    assert "invalid_client" in result.stderr and REDACTED in result.stderr
    _assert_clean(case, result.stdout, result.stderr)


# -- Reprs ---------------------------------------------------------------------


async def test_reprs_hide_every_secret():
    token, key, password, secret = (f"{k}-{secrets.token_hex(6)}" for k in "tkps")
    credentials = Credentials(
        token=SecretStr(token),
        api_key=SecretStr(key),
        username="ops",
        password=SecretStr(password),
        client_id="app",
        client_secret=SecretStr(secret),
    )
    obtained = f"obtained-{secrets.token_hex(6)}"
    config = AuthConfig.model_validate(
        {
            "authType": "oauth2",
            "shouldObtainToken": True,
            "authUrl": "https://login.example.test/token",
            "tokenPath": "access_token",
        }
    )
    grant = httpx.Response(200, json={"access_token": obtained, "expires_in": 60})
    flow = ClientCredentialsAuth(
        config, "app", SecretStr(secret), transport=httpx.MockTransport(lambda r: grant)
    )
    await flow._current_token()  # the flow now holds a token

    shown = " ".join(
        repr(thing)
        for thing in (
            credentials,
            Settings(credentials=credentials),
            HeaderAuth("Bearer", SecretStr(token)),
            BasicAuth("ops", SecretStr(password)),
            flow,
        )
    )

    for value in (token, key, password, secret, obtained):
        assert value not in shown


def test_a_provider_context_repr_hides_the_auth(tmp_path):
    import yaml
    from baton_scim.config import ProviderConfig
    from baton_scim.plugins import run_context
    from baton_scim.provider import Provider

    path = write_description(
        tmp_path / "d.yaml", "http://127.0.0.1:9/v2", {"authType": "oauth2"}
    )
    config = ProviderConfig.model_validate(yaml.safe_load(path.read_text()))
    token = f"tok-{secrets.token_hex(6)}"
    credentials = Credentials(token=SecretStr(token))
    provider = Provider("custom", "", lambda request: ("", ""), "test")
    context = run_context(provider, config, credentials)
    context.options["auth"] = build_auth(context, credentials)

    assert token not in repr(context)


# -- The redactor and the log handlers -----------------------------------------


def _logged(handler: logging.Handler, fmt: str, emit: Any) -> None:
    setup_logging("debug", fmt, handler)
    try:
        emit(logging.getLogger("baton_scim.test"))
    finally:
        logging.getLogger("baton_scim").removeHandler(handler)


def _fail_with(secret: str) -> None:
    header = f"Bearer {secret}"  # a local a verbose traceback would show
    raise RuntimeError(f"the service said: {header}")


@pytest.mark.parametrize("fmt", FORMATS)
def test_messages_arguments_and_tracebacks_are_scrubbed(fmt):
    secret = f"scrub-{secrets.token_hex(6)}"
    redactor.add(secret)
    stream = io.StringIO()

    def emit(logger: logging.Logger) -> None:
        logger.debug("token %s in an argument", secret)
        logger.info(f"token {secret} in the message")
        try:
            _fail_with(secret)
        except RuntimeError:
            logger.error("failed", exc_info=True, stack_info=True)

    _logged(logging.StreamHandler(stream), fmt, emit)

    text = stream.getvalue()
    assert secret not in text
    assert text.count(REDACTED) >= 3 and "Traceback" in text


def test_the_terminal_handler_is_scrubbed_too():
    secret = f"rich-{secrets.token_hex(6)}"
    redactor.add(secret)
    console = Console(file=io.StringIO(), force_terminal=True, width=200)
    handler = RichHandler(console=console, show_path=False, markup=False)

    def emit(logger: logging.Logger) -> None:
        try:
            _fail_with(secret)
        except RuntimeError:
            logger.error("failed with %s", secret, exc_info=True)

    _logged(handler, "console", emit)

    text = console.file.getvalue()
    assert secret not in text and "Traceback" in text


def test_httpx_and_httpcore_stay_quiet_at_debug():
    setup_logging("debug", "json", logging.NullHandler())

    for name in ("httpx", "httpcore", "httpcore.http11", "httpcore.connection"):
        assert not logging.getLogger(name).isEnabledFor(logging.INFO)


def test_a_secret_within_another_is_replaced_whole():
    scrubber = Redactor()
    scrubber.add("abcd", "abcdefgh", "xy", None)

    assert scrubber.scrub("abcdefgh abcd xy") == f"{REDACTED} {REDACTED} xy"
    assert "xy" not in scrubber  # too short to redact ordinary words safely
