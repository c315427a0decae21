"""httpx Auth flows for the four methods of the guide.

The method follows ``auth.authType`` and the credentials given: a bearer
token, an API key with an optional prefix, basic authentication, or an
OAuth2 client-credentials token obtained (and renewed) at run time. Secrets
stay in ``SecretStr`` until the moment a header is built.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import AsyncGenerator, Generator
from typing import Any

import httpx
from pydantic import SecretStr

from .config import AuthConfig
from .errors import (
    AuthenticationFailed,
    CredentialsError,
    ProtocolError,
    TransportError,
)
from .jsonpath import compile_path
from .provider import Credentials, ProviderContext

logger = logging.getLogger(__name__)

# Renew a token this long before it expires, so that no request carries a
# token that dies in flight (Zoom tokens live 3600 s).
RENEW_MARGIN_SECONDS = 300.0


class HeaderAuth(httpx.Auth):
    """Sends one fixed Authorization header built from a secret."""

    def __init__(self, scheme: str | None, secret: SecretStr) -> None:
        self._scheme = scheme
        self._secret = secret

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, Any, None]:
        value = self._secret.get_secret_value()
        request.headers["Authorization"] = (
            f"{self._scheme} {value}" if self._scheme else value
        )
        yield request

    def __repr__(self) -> str:
        return f"HeaderAuth(scheme={self._scheme!r}, secret='**********')"


def basic_header(username: str, password: SecretStr) -> str:
    raw = f"{username}:{password.get_secret_value()}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


class BasicAuth(httpx.Auth):
    """RFC 7617 basic authentication."""

    def __init__(self, username: str, password: SecretStr) -> None:
        self._username = username
        self._password = password

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, Any, None]:
        request.headers["Authorization"] = basic_header(self._username, self._password)
        yield request

    def __repr__(self) -> str:
        return f"BasicAuth(username={self._username!r}, password='**********')"


class ClientCredentialsAuth(httpx.Auth):
    """An OAuth2 client-credentials token, obtained once and renewed in time.

    One token serves every concurrent request of a run: a lock makes sure
    only one token request is in flight. The token is renewed before
    ``expires_in`` runs out, and once after a 401.
    """

    def __init__(
        self,
        config: AuthConfig,
        client_id: str,
        client_secret: SecretStr,
        account_id: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: Any = True,
    ) -> None:
        assert config.auth_url and config.token_path
        self._config = config
        self._client_id = client_id
        self._client_secret = client_secret
        self._account_id = account_id
        self._token_path = compile_path(config.token_path, key="auth.tokenPath")
        self._transport = transport
        self._verify = verify
        self._token: SecretStr | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self.tokens_obtained = 0

    def __repr__(self) -> str:
        url = self._config.auth_url
        return f"ClientCredentialsAuth(auth_url={url!r}, secret='**********')"

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, Any, None]:
        raise RuntimeError("client-credentials authentication needs the async client")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self._current_token()
        request.headers["Authorization"] = f"Bearer {token.get_secret_value()}"
        response = yield request

        if response.status_code == 401:
            logger.info("the service refused the token (401); obtaining a new one")
            token = await self._renew(stale=token)
            request.headers["Authorization"] = f"Bearer {token.get_secret_value()}"
            yield request

    async def _current_token(self) -> SecretStr:
        if self._token is not None and time.monotonic() < self._expires_at:
            return self._token
        return await self._renew(stale=self._token)

    async def _renew(self, stale: SecretStr | None) -> SecretStr:
        async with self._lock:
            # Another request may have renewed it while this one waited.
            if self._token is not None and self._token is not stale:
                return self._token
            self._token, lifetime = await self._request_token()
            self._expires_at = time.monotonic() + max(lifetime - _margin(lifetime), 1.0)
            self.tokens_obtained += 1
            return self._token

    async def _request_token(self) -> tuple[SecretStr, float]:
        url = self._config.auth_url or ""
        async with httpx.AsyncClient(
            transport=self._transport, verify=self._verify, timeout=30.0
        ) as client:
            try:
                response = await client.send(self._token_request(client))
            except httpx.HTTPError as exc:
                raise TransportError(
                    f"cannot reach the token endpoint {url}: {type(exc).__name__}",
                    hint="check auth.authUrl and the network",
                ) from None
        return self._read_token(response, url)

    def _token_request(self, client: httpx.AsyncClient) -> httpx.Request:
        shape = self._config.token_request
        params: dict[str, str] = {"grant_type": shape.grant_type}
        if shape.scope:
            params["scope"] = shape.scope
        if shape.account_id_param and self._account_id:
            params[shape.account_id_param] = self._account_id
        headers = {"Accept": "application/json"}
        if shape.client_auth == "basic":
            headers["Authorization"] = basic_header(
                self._client_id, self._client_secret
            )
        else:
            params["client_id"] = self._client_id
            params["client_secret"] = self._client_secret.get_secret_value()

        url = self._config.auth_url or ""
        if shape.style == "query":
            return client.build_request("POST", url, params=params, headers=headers)
        if shape.style == "json":
            return client.build_request("POST", url, json=params, headers=headers)
        return client.build_request("POST", url, data=params, headers=headers)

    def _read_token(
        self, response: httpx.Response, url: str
    ) -> tuple[SecretStr, float]:
        if response.status_code >= 400:
            error = (
                AuthenticationFailed
                if response.status_code in (400, 401, 403)
                else TransportError
            )
            message = f"the token endpoint {url} answered {response.status_code}"
            hint = "check --scim-client-id, --scim-client-secret and --account-id"
            if error is AuthenticationFailed:
                raise AuthenticationFailed(
                    message,
                    status=response.status_code,
                    request=f"POST {url}",
                    hint=hint,
                )
            raise TransportError(message, hint="try again later, or check auth.authUrl")
        try:
            body = response.json()
        except ValueError:
            raise ProtocolError(
                f"the token endpoint {url} did not answer JSON",
                hint="check auth.authUrl",
            ) from None
        token = self._token_path.first(body)
        if not isinstance(token, str) or not token:
            raise ProtocolError(
                f"no token at {self._config.token_path!r} in the answer of {url}",
                hint="check auth.tokenPath",
            )
        lifetime = body.get("expires_in") if isinstance(body, dict) else None
        return SecretStr(token), _seconds(lifetime)


def _margin(lifetime: float) -> float:
    return min(RENEW_MARGIN_SECONDS, lifetime / 10)


def _seconds(value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return 3600.0
    return seconds if seconds > 0 else 3600.0


def build_auth(provider: ProviderContext, credentials: Credentials) -> httpx.Auth:
    """Choose the method from the description's auth type and the credentials."""
    config = provider.config.auth
    ignored: list[str] = []
    auth: httpx.Auth

    if (
        config.should_obtain_token
        and credentials.client_id
        and credentials.client_secret
    ):
        auth = ClientCredentialsAuth(
            config,
            credentials.client_id,
            credentials.client_secret,
            credentials.account_id,
            transport=provider.options.get("token_transport"),
            verify=provider.options.get("verify", True),
        )
        ignored = [
            f
            for f in credentials.given()
            if f in ("--token", "--api-key", "--username", "--password")
        ]
    elif config.auth_type == "basic":
        auth = _basic(credentials)
        ignored = [
            f for f in credentials.given() if f not in ("--username", "--password")
        ]
    else:
        auth = _bearer_like(provider, credentials)
        ignored = [f for f in credentials.given() if f not in ("--token", "--api-key")]
    if ignored:
        logger.warning(
            "ignoring %s: the %s auth type does not use it",
            ", ".join(ignored),
            config.auth_type,
        )
    return auth


def _basic(credentials: Credentials) -> httpx.Auth:
    missing = []
    if not credentials.username:
        missing.append("--username (BATON_USERNAME)")
    if not credentials.password:
        missing.append("--password (BATON_PASSWORD)")
    if missing:
        raise CredentialsError(
            f"basic authentication needs {' and '.join(missing)}",
            hint="the provider description sets auth.authType: basic",
        )
    assert credentials.username and credentials.password
    return BasicAuth(credentials.username, credentials.password)


def _bearer_like(provider: ProviderContext, credentials: Credentials) -> httpx.Auth:
    config = provider.config.auth
    secret = credentials.token or credentials.api_key
    if secret is None:
        raise CredentialsError(
            _missing_secret_message(provider), hint=_missing_secret_hint(config)
        )
    if config.auth_type == "apiKey":
        return HeaderAuth(config.api_key_prefix or None, secret)
    return HeaderAuth("Bearer", secret)


def _missing_secret_message(provider: ProviderContext) -> str:
    return (
        f"the {provider.name} provider ({provider.config.auth.auth_type}) needs a token"
    )


def _missing_secret_hint(config: AuthConfig) -> str:
    hint = "pass --token (BATON_TOKEN) or --api-key (BATON_API_KEY)"
    if config.should_obtain_token:
        hint += ", or --scim-client-id and --scim-client-secret to obtain one"
    return hint
