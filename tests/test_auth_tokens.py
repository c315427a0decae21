"""Client-credentials tokens: obtained once, renewed in time, failures named.

The flow itself is driven with ``httpx.MockTransport`` and a hand-moved
clock (no sleeping); whole syncs run against scim2-server behind an
``AuthGate`` and a ``TokenServer``.
"""

from __future__ import annotations

import asyncio
import json
import math
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from baton_scim import auth as auth_module
from baton_scim.auth import ClientCredentialsAuth
from baton_scim.config import AuthConfig
from baton_scim.errors import AuthenticationFailed, ServiceError
from baton_scim.logs import redactor
from pydantic import SecretStr

from tests.support.auth_server import (
    AuthGate,
    IssuedTokens,
    RecordingServer,
    TokenRequestShape,
    TokenServer,
    gated_server,
    write_description,
)
from tests.support.cli import run_cli
from tests.support.scim_server import Directory, ScimServer, seed_directory
from tests.support.snapshot import snapshot

TOKEN_URL = "https://login.example.test/oauth/token"
SCIM_URL = "https://scim.example.test/v2/Users"
CONFIG = AuthConfig.model_validate(
    {
        "authType": "oauth2",
        "shouldObtainToken": True,
        "authUrl": TOKEN_URL,
        "tokenPath": "access_token",
    }
)


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TokenEndpoint:
    """Issues tok-1, tok-2, ... with a lifetime; or answers as ``reply`` says."""

    def __init__(
        self,
        expires_in: float = 3600,
        reply: Callable[[int], httpx.Response | None] | None = None,
        delay: float = 0.0,
    ) -> None:
        self.expires_in = expires_in
        self.reply = reply
        self.delay = delay
        self.requests = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        await asyncio.sleep(self.delay)
        answer = self.reply(self.requests) if self.reply else None
        if answer is not None:
            return answer
        grant = {
            "access_token": f"tok-{self.requests}-{secrets.token_hex(4)}",
            "token_type": "bearer",
            "expires_in": self.expires_in,
        }
        return httpx.Response(200, json=grant)


class Service:
    """A SCIM endpoint that records the tokens it gets; ``refuse`` picks 401s."""

    def __init__(self, refuse: Callable[[str], bool] = lambda token: False) -> None:
        self.refuse = refuse
        self.tokens: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        token = request.headers["Authorization"].removeprefix("Bearer ")
        self.tokens.append(token)
        if self.refuse(token):
            return httpx.Response(401, json={"detail": "invalid token"})
        return httpx.Response(200, json={"Resources": []})


def _auth(endpoint: TokenEndpoint, clock: Clock | None = None) -> ClientCredentialsAuth:
    return ClientCredentialsAuth(
        CONFIG,
        "client",
        SecretStr("client-secret-1234"),
        transport=httpx.MockTransport(endpoint),
        clock=clock or Clock(),
    )


def _client(auth: ClientCredentialsAuth, service: Service) -> httpx.AsyncClient:
    return httpx.AsyncClient(auth=auth, transport=httpx.MockTransport(service))


def _prefixes(tokens: list[str]) -> list[str]:
    return ["-".join(token.split("-")[:2]) for token in tokens]


async def test_a_token_is_renewed_before_it_expires():
    clock, endpoint, service = Clock(), TokenEndpoint(expires_in=3600), Service()
    async with _client(_auth(endpoint, clock), service) as client:
        await client.get(SCIM_URL)
        clock.now += 3000
        await client.get(SCIM_URL)
        clock.now += 301  # inside the last 300 s of the token's life
        await client.get(SCIM_URL)

    assert _prefixes(service.tokens) == ["tok-1", "tok-1", "tok-2"]
    assert endpoint.requests == 2


async def test_a_two_second_token_is_renewed_before_it_runs_out():
    clock, endpoint, service = Clock(), TokenEndpoint(expires_in=2), Service()
    async with _client(_auth(endpoint, clock), service) as client:
        await client.get(SCIM_URL)
        clock.now += 1.7
        await client.get(SCIM_URL)
        clock.now += 0.15  # 1.85 s: past the margin of a tenth of its life
        await client.get(SCIM_URL)

    assert _prefixes(service.tokens) == ["tok-1", "tok-1", "tok-2"]


async def test_concurrent_requests_share_one_token():
    endpoint, service = TokenEndpoint(delay=0.05), Service()
    async with _client(_auth(endpoint), service) as client:
        await asyncio.gather(*(client.get(SCIM_URL) for _ in range(40)))

    assert endpoint.requests == 1
    assert len(set(service.tokens)) == 1 and len(service.tokens) == 40


async def test_a_401_renews_the_token_once_and_a_second_401_is_final():
    endpoint, service = TokenEndpoint(), Service(refuse=lambda token: True)
    async with _client(_auth(endpoint), service) as client:
        response = await client.get(SCIM_URL)

    assert response.status_code == 401
    assert _prefixes(service.tokens) == ["tok-1", "tok-2"]
    assert endpoint.requests == 2


async def test_concurrent_401s_for_one_old_token_renew_it_once():
    endpoint = TokenEndpoint(delay=0.02)
    service = Service(refuse=lambda token: token.startswith("tok-1-"))
    async with _client(_auth(endpoint), service) as client:
        responses = await asyncio.gather(*(client.get(SCIM_URL) for _ in range(8)))

    assert {r.status_code for r in responses} == {200}
    assert endpoint.requests == 2


async def test_a_refused_token_request_is_not_repeated_by_waiting_requests():
    refused = httpx.Response(401, json={"error": "invalid_client"})
    endpoint = TokenEndpoint(reply=lambda n: refused, delay=0.02)
    async with _client(_auth(endpoint), Service()) as client:
        results = await asyncio.gather(
            *(client.get(SCIM_URL) for _ in range(5)), return_exceptions=True
        )

    assert all(isinstance(r, AuthenticationFailed) for r in results)
    assert endpoint.requests == 1


async def test_a_busy_token_endpoint_is_asked_again(monkeypatch):
    monkeypatch.setattr(auth_module, "TOKEN_RETRY_BASE_SECONDS", 0.001)
    busy = httpx.Response(429, headers={"Retry-After": "0"})
    endpoint = TokenEndpoint(reply=lambda n: busy if n == 1 else None)
    async with _client(_auth(endpoint), Service()) as client:
        response = await client.get(SCIM_URL)

    assert response.status_code == 200
    assert endpoint.requests == 2


async def test_a_token_endpoint_that_stays_down_is_named(monkeypatch):
    monkeypatch.setattr(auth_module, "TOKEN_RETRY_BASE_SECONDS", 0.001)
    endpoint = TokenEndpoint(reply=lambda n: httpx.Response(503))
    async with _client(_auth(endpoint), Service()) as client:
        with pytest.raises(ServiceError) as caught:
            await client.get(SCIM_URL)

    assert endpoint.requests == auth_module.TOKEN_ATTEMPTS
    assert f"the token endpoint {TOKEN_URL} answered 503" in str(caught.value)


async def test_an_obtained_token_is_registered_with_the_redactor():
    service = Service()
    async with _client(_auth(TokenEndpoint()), service) as client:
        await client.get(SCIM_URL)

    assert service.tokens[0] in redactor
    assert "client-secret-1234" not in repr(_auth(TokenEndpoint()))


# -- Whole syncs ---------------------------------------------------------------


@pytest.fixture(scope="module")
def service() -> Iterator[tuple[AuthGate, ScimServer, Directory]]:
    gate = AuthGate()
    with gated_server(gate) as server:
        yield gate, server, seed_directory(server, users=120, groups=6)


def _token_description(path: Path, endpoint: str, token_url: str, **extra: Any):
    auth = {
        "authType": "oauth2",
        "shouldObtainToken": True,
        "authUrl": token_url,
        "tokenPath": "access_token",
        **extra,
    }
    return write_description(path, endpoint, auth, pageSize=5, concurrency=4)


def _sync(description: Path, out: Path, secret: str, *extra: str) -> Any:
    return run_cli(
        "--scim-config",
        str(description),
        "--scim-client-id",
        "sync-app",
        "--scim-client-secret",
        secret,
        "-f",
        str(out),
        *extra,
    )


def _users(out: Path) -> set[str]:
    return {r[1] for r in snapshot(out)["resources"] if r[0] == "user"}


def test_one_token_serves_a_whole_concurrent_sync(service, tmp_path):
    gate, server, directory = service
    secret = f"cs-{secrets.token_hex(8)}"
    with TokenServer(TokenRequestShape("sync-app", secret)) as tokens:
        gate.expect(IssuedTokens(tokens))
        description = _token_description(tmp_path / "d.yaml", server.url, tokens.url)
        result = _sync(description, tmp_path / "sync.c1z", secret)

    assert result.exit_code == 0, result.output
    assert _users(tmp_path / "sync.c1z") == {u["id"] for u in directory.users}
    assert len(gate.seen) > 24 + 1  # 120 users and 6 groups, 5 a page
    assert len(tokens.requests) == 1
    assert set(gate.seen) == {f"Bearer {tokens.issued[0]}"}


def test_a_token_revoked_mid_sync_is_renewed_and_the_sync_completes(service, tmp_path):
    gate, server, directory = service
    secret = f"cs-{secrets.token_hex(8)}"
    with TokenServer(TokenRequestShape("sync-app", secret)) as tokens:
        revoking = IssuedTokens(tokens, uses_per_token=6)
        gate.expect(revoking)
        description = _token_description(tmp_path / "d.yaml", server.url, tokens.url)
        result = _sync(description, tmp_path / "sync.c1z", secret)

    assert result.exit_code == 0, result.output
    assert _users(tmp_path / "sync.c1z") == {u["id"] for u in directory.users}
    admitted = len(gate.seen) - gate.refused
    assert gate.refused >= 4  # several tokens did die mid-sync
    # Never more tokens than needed: each one was used up before the next.
    assert len(tokens.issued) == math.ceil(admitted / 6)
    assert [revoking.uses[t] for t in tokens.issued[:-1]] == [6] * (
        len(tokens.issued) - 1
    )


def _one_error(result: Any) -> str:
    assert result.exit_code != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.output
    return errors[0]


@pytest.fixture
def out(tmp_path: Path) -> Iterator[Path]:
    """The output file; a failed run must leave nothing behind."""
    path = tmp_path / "sync.c1z"
    yield path
    assert not path.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["d.yaml"]


def test_a_refused_token_request_names_the_auth_url_not_the_secret(
    service, tmp_path, out
):
    gate, server, _ = service
    secret = f"cs-{secrets.token_hex(8)}"
    shape = TokenRequestShape("sync-app", secret)
    with TokenServer(shape, mode="refuse", echo=True) as tokens:
        gate.expect(IssuedTokens(tokens))
        description = _token_description(tmp_path / "d.yaml", server.url, tokens.url)
        result = _sync(description, out, secret)
        url = tokens.url

    line = _one_error(result)
    assert f"the token endpoint {url} answered 401: invalid_client" in line
    assert "check --scim-client-id, --scim-client-secret or their BATON_*" in line
    assert secret not in result.output
    assert shape.basic_header().split()[1] not in result.output
    assert len(tokens.requests) == 1 and gate.seen == []


@pytest.mark.parametrize(
    ("mode", "words"),
    [
        ("html", ["did not answer JSON (text/html)", "auth.authUrl"]),
        ("unavailable", ["answered 503", "try again later"]),
    ],
)
def test_a_token_endpoint_that_fails_is_named(
    service, tmp_path, out, monkeypatch, mode, words
):
    monkeypatch.setattr(auth_module, "TOKEN_RETRY_BASE_SECONDS", 0.001)
    _, server, _ = service
    shape = TokenRequestShape("sync-app", "cs-1234")
    with TokenServer(shape, mode=mode) as tokens:
        description = _token_description(tmp_path / "d.yaml", server.url, tokens.url)
        result = _sync(description, out, "cs-1234")
        url = tokens.url

    line = _one_error(result)
    assert f"the token endpoint {url}" in line
    for word in words:
        assert word in line


def test_a_token_answer_without_the_token_path_is_named(service, tmp_path):
    _, server, _ = service
    with TokenServer(TokenRequestShape("sync-app", "cs-1234")) as tokens:
        description = _token_description(tmp_path / "d.yaml", server.url, tokens.url)
        text = description.read_text().replace(
            "tokenPath: access_token", "tokenPath: data.token"
        )
        description.write_text(text)
        result = _sync(description, tmp_path / "sync.c1z", "cs-1234")

    line = _one_error(result)
    assert "has no token at 'data.token'" in line and "auth.tokenPath" in line


def test_an_unreachable_token_endpoint_is_named(service, tmp_path, monkeypatch):
    monkeypatch.setattr(auth_module, "TOKEN_RETRY_BASE_SECONDS", 0.001)
    _, server, _ = service
    with RecordingServer() as gone:
        url = f"{gone.origin}/oauth/token"  # the port is free once it stops
    description = _token_description(tmp_path / "d.yaml", server.url, url)

    result = _sync(description, tmp_path / "sync.c1z", "cs-1234")

    assert f"cannot reach the token endpoint {url}: ConnectError" in _one_error(result)


def test_a_redirecting_token_endpoint_gets_no_credentials_elsewhere(service, tmp_path):
    _, server, _ = service
    secret = f"cs-{secrets.token_hex(8)}"
    with RecordingServer() as elsewhere:
        shape = TokenRequestShape("sync-app", secret)
        redirect_to = f"{elsewhere.origin}/oauth/token"
        with TokenServer(shape, mode="redirect", redirect_to=redirect_to) as tokens:
            description = _token_description(
                tmp_path / "d.yaml", server.url, tokens.url
            )
            result = _sync(description, tmp_path / "sync.c1z", secret)

    line = _one_error(result)
    assert f"redirects to {redirect_to}" in line
    assert elsewhere.requests == []


def test_the_auth_url_flag_replaces_the_description(service, tmp_path):
    gate, server, _ = service
    with TokenServer(TokenRequestShape("sync-app", "cs-1234")) as tokens:
        gate.expect(IssuedTokens(tokens))
        description = _token_description(
            tmp_path / "d.yaml", server.url, "http://127.0.0.1:9/nowhere"
        )
        result = _sync(
            description, tmp_path / "sync.c1z", "cs-1234", "--auth-url", tokens.url
        )

    assert result.exit_code == 0, result.output
    assert len(tokens.requests) == 1


def test_token_answers_are_json_objects_read_by_token_path():
    auth = ClientCredentialsAuth(
        AuthConfig.model_validate(
            {**CONFIG.model_dump(by_alias=True), "tokenPath": "$.result.jwt"}
        ),
        "client",
        SecretStr("client-secret-1234"),
    )
    body = json.loads('{"result": {"jwt": "eyJ.abc"}, "expires_in": "60"}')

    token, lifetime = auth._token_from(body)

    assert token.get_secret_value() == "eyJ.abc" and lifetime == 60.0
