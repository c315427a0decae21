"""httpx Auth flows for the four methods of the guide, and the rules that pick one.

Which credentials a description accepts (checked before any request):

- ``authType: basic``: ``--username`` and ``--password``, both required.
- ``authType: oauth2`` or ``apiKey`` with ``shouldObtainToken: true``:
  ``--scim-client-id`` and ``--scim-client-secret`` (and ``--account-id``
  when ``tokenRequest.accountIdParam`` is set) obtain a token at run time;
  without them, a ``--token`` or ``--api-key`` obtained elsewhere is used.
- ``authType: oauth2``: ``--token``, else ``--api-key``, sent as
  ``Authorization: Bearer <value>`` (RFC 6750 §2.1).
- ``authType: apiKey``: ``--api-key``, else ``--token``, sent as
  ``Authorization: <apiKeyPrefix> <value>``, or the bare value without a
  prefix.

Every flag has its ``BATON_*`` variable. A credential given but not used is
named in a warning; a missing one stops the run with its flag and variable.
An obtained token is always sent as ``Bearer``: RFC 6749 §7.1 token types are
``bearer`` for every service we know (Zoom, Azure AD).

Secrets stay in ``SecretStr`` until a header is built, every form a secret
can take on the wire (the value, its Basic encoding, its form encoding, an
obtained token) is registered with the log redactor, and credentials are
only ever sent to the origin they belong to.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import ssl
import time
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote_plus, urlsplit

import httpx
from pydantic import SecretStr

from .config import AuthConfig
from .errors import (
    AuthenticationFailed,
    BatonScimError,
    ConfigError,
    CredentialsError,
    PluginError,
    ProtocolError,
    ServiceError,
    TransportError,
)
from .http import parse_retry_after, tls_failure
from .jsonpath import compile_path
from .logs import redactor
from .provider import Credentials, ProviderContext

logger = logging.getLogger(__name__)

# Renew a token this long before it expires, so that no request carries a
# token that dies in flight. Zoom tokens live 3600 s; its community clients
# renew 300 s early.
RENEW_MARGIN_SECONDS = 300.0
# RFC 6749 §5.1 makes expires_in optional; assume an hour (Zoom, Azure AD)
# and rely on the renewal after a 401 when a token dies sooner.
DEFAULT_LIFETIME_SECONDS = 3600.0
TOKEN_TIMEOUT_SECONDS = 30.0
# A token endpoint that is briefly down should not end a long sync.
TOKEN_ATTEMPTS = 3
TOKEN_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
TOKEN_RETRY_BASE_SECONDS = 0.5
TOKEN_RETRY_MAX_SECONDS = 30.0

VARIABLES = {
    "--token": "BATON_TOKEN",
    "--api-key": "BATON_API_KEY",
    "--username": "BATON_USERNAME",
    "--password": "BATON_PASSWORD",
    "--scim-client-id": "BATON_SCIM_CLIENT_ID",
    "--scim-client-secret": "BATON_SCIM_CLIENT_SECRET",
    "--account-id": "BATON_ACCOUNT_ID",
}
CLIENT_PAIR = ("--scim-client-id", "--scim-client-secret")
Origin = tuple[str, str, int]


def named(flag: str) -> str:
    """A flag with its environment variable, as error messages show it."""
    return f"{flag} ({VARIABLES[flag]})"


# -- The flows -----------------------------------------------------------------


class OriginGuard:
    """Refuses to sign a request bound for another origin than the service's."""

    def __init__(self, origin: str | None) -> None:
        self._origin = origin_of(origin) if origin else None

    def check(self, request: httpx.Request) -> None:
        target = origin_of(str(request.url))
        if self._origin is None or target == self._origin:
            return
        raise ProtocolError(
            f"refusing to send credentials to {_origin_text(target)}: they belong "
            f"to {_origin_text(self._origin)}",
            hint="a provider plugin built a URL outside apiEndpoint; fix the plugin",
        )


class HeaderAuth(httpx.Auth):
    """Sends one fixed Authorization header built from a secret."""

    def __init__(
        self, scheme: str | None, secret: SecretStr, origin: str | None = None
    ) -> None:
        self._scheme = scheme
        self._secret = secret
        self._guard = OriginGuard(origin)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, Any, None]:
        self._guard.check(request)
        value = self._secret.get_secret_value()
        request.headers["Authorization"] = (
            f"{self._scheme} {value}" if self._scheme else value
        )
        yield request

    def __repr__(self) -> str:
        return f"HeaderAuth(scheme={self._scheme!r}, secret='**********')"


def basic_header(username: str, password: SecretStr) -> str:
    """An RFC 7617 Basic header value; registered with the redactor."""
    raw = f"{username}:{password.get_secret_value()}".encode()
    encoded = base64.b64encode(raw).decode("ascii")
    redactor.add(encoded)
    return "Basic " + encoded


class BasicAuth(httpx.Auth):
    """RFC 7617 basic authentication."""

    def __init__(
        self, username: str, password: SecretStr, origin: str | None = None
    ) -> None:
        self._username = username
        self._header = SecretStr(basic_header(username, password))
        self._guard = OriginGuard(origin)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, Any, None]:
        self._guard.check(request)
        request.headers["Authorization"] = self._header.get_secret_value()
        yield request

    def __repr__(self) -> str:
        return f"BasicAuth(username={self._username!r}, password='**********')"


class ClientCredentialsAuth(httpx.Auth):
    """An OAuth2 client-credentials token, obtained once and renewed in time.

    One token serves every concurrent request of a run: a lock makes sure
    only one token request is in flight, and a request that waited for it
    uses the token the other one obtained. The token is renewed before
    ``expires_in`` runs out, and once after a 401. It lives in memory only.
    A token endpoint that still fails after its retries ends the run: every
    later request sees the same error instead of asking again.
    """

    def __init__(
        self,
        config: AuthConfig,
        client_id: str,
        client_secret: SecretStr,
        account_id: str | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: Any = True,
        origin: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._url = _token_url(config)
        self._token_path = compile_path(config.token_path or "", key="auth.tokenPath")
        self._client_id = client_id
        self._client_secret = client_secret
        self._client_header = SecretStr(_client_basic(client_id, client_secret))
        self._account_id = account_id
        self._transport = transport
        self._verify = verify
        self._guard = OriginGuard(origin)
        self._clock = clock
        self._token: SecretStr | None = None
        self._expires_at = 0.0
        self._failure: BatonScimError | None = None
        self._lock = asyncio.Lock()
        self.tokens_obtained = 0
        redactor.add(quote_plus(client_secret.get_secret_value()))

    def __repr__(self) -> str:
        shown = display_url(self._url)
        return f"ClientCredentialsAuth(auth_url={shown!r}, secret='**********')"

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, Any, None]:
        raise PluginError(
            "client-credentials authentication needs an async httpx client",
            hint="send requests with httpx.AsyncClient",
        )

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        self._guard.check(request)
        token = await self._current_token()
        request.headers["Authorization"] = f"Bearer {token.get_secret_value()}"
        response = yield request
        if response.status_code != 401:
            return

        # RFC 6750 §3.1 invalid_token: the token died early (revoked, or the
        # service restarted); one new token, and no second try after that.
        token = await self._renew(stale=token, reason="the service refused it (401)")
        request.headers["Authorization"] = f"Bearer {token.get_secret_value()}"
        yield request

    async def _current_token(self) -> SecretStr:
        if self._token is not None and self._clock() < self._expires_at:
            return self._token
        return await self._renew(stale=self._token, reason="it is about to expire")

    async def _renew(self, stale: SecretStr | None, reason: str) -> SecretStr:
        async with self._lock:
            if self._failure is not None:
                raise self._failure
            # Another request renewed it while this one waited for the lock.
            if self._token is not None and self._token is not stale:
                return self._token
            if stale is not None:
                logger.info("renewing the access token: %s", reason)
            try:
                token, lifetime = await self._request_token()
            except BatonScimError as error:
                self._failure = error
                raise
            self._token = token
            self._expires_at = self._clock() + _usable_seconds(lifetime)
            self.tokens_obtained += 1
            return token

    async def _request_token(self) -> tuple[SecretStr, float]:
        async with httpx.AsyncClient(
            transport=self._transport,
            verify=self._verify,
            timeout=TOKEN_TIMEOUT_SECONDS,
            follow_redirects=False,
        ) as client:
            response = await self._post_with_retries(client)
        token, lifetime = self._read_token(response)
        logger.info(
            "obtained an access token from %s (valid %.0fs)",
            display_url(self._url),
            lifetime,
        )
        return token, lifetime

    async def _post_with_retries(self, client: httpx.AsyncClient) -> httpx.Response:
        for attempt in range(1, TOKEN_ATTEMPTS + 1):
            outcome = await self._post_once(client)
            delay = _token_retry_delay(outcome, attempt)
            if delay is None:
                return self._response_of(outcome)
            logger.info(
                "the token endpoint %s failed (%s); trying again in %.1fs",
                display_url(self._url),
                _outcome_text(outcome),
                delay,
            )
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # the last attempt always returns

    async def _post_once(
        self, client: httpx.AsyncClient
    ) -> httpx.Response | httpx.HTTPError:
        try:
            response = await client.send(self._token_request(client))
            await response.aread()
        except (httpx.TransportError, httpx.DecodingError) as exc:
            return exc
        return response

    def _response_of(self, outcome: httpx.Response | httpx.HTTPError) -> httpx.Response:
        if isinstance(outcome, httpx.Response):
            return outcome
        raise TransportError(
            f"cannot reach the token endpoint {display_url(self._url)}: "
            f"{_transport_text(outcome)}",
            hint="check auth.authUrl or --auth-url, and the network",
        )

    def _token_request(self, client: httpx.AsyncClient) -> httpx.Request:
        shape = self._config.token_request
        params = {"grant_type": shape.grant_type}
        if shape.scope:
            params["scope"] = shape.scope
        if shape.account_id_param and self._account_id:
            params[shape.account_id_param] = self._account_id
        headers = {"Accept": "application/json", "User-Agent": _user_agent()}
        if shape.client_auth == "basic":
            headers["Authorization"] = self._client_header.get_secret_value()
        else:
            params["client_id"] = self._client_id
            params["client_secret"] = self._client_secret.get_secret_value()

        if shape.style == "query":
            # Zoom S2S OAuth: POST /oauth/token?grant_type=account_credentials
            # &account_id=...; the client secret stays in the Basic header.
            return client.build_request(
                "POST", self._url, params=params, headers=headers
            )
        if shape.style == "json":
            return client.build_request("POST", self._url, json=params, headers=headers)
        return client.build_request("POST", self._url, data=params, headers=headers)

    def _read_token(self, response: httpx.Response) -> tuple[SecretStr, float]:
        if response.is_redirect:
            raise self._redirect_error(response)
        if response.status_code >= 400:
            raise self._status_error(response)
        try:
            body = response.json()
        except ValueError:
            kind = response.headers.get("Content-Type", "no content type")
            raise ProtocolError(
                f"the token endpoint {display_url(self._url)} did not answer JSON "
                f"({kind})",
                hint="check auth.authUrl or --auth-url: it must be the token URL",
            ) from None
        return self._token_from(body)

    def _token_from(self, body: Any) -> tuple[SecretStr, float]:
        token = self._token_path.first(body)
        if not isinstance(token, str) or not token:
            raise ProtocolError(
                f"the answer of the token endpoint {display_url(self._url)} has no "
                f"token at {self._config.token_path!r}",
                hint="check auth.tokenPath",
            )
        redactor.add(token)
        lifetime = body.get("expires_in") if isinstance(body, dict) else None
        return SecretStr(token), _seconds(lifetime)

    def _redirect_error(self, response: httpx.Response) -> ProtocolError:
        target = display_url(response.headers.get("Location", "elsewhere"))
        return ProtocolError(
            f"the token endpoint {display_url(self._url)} redirects to {target}; "
            "client credentials never follow a redirect",
            hint="set auth.authUrl or --auth-url to the final token URL",
        )

    def _status_error(self, response: httpx.Response) -> ServiceError:
        status = response.status_code
        detail = _oauth_error(response)
        message = f"the token endpoint {display_url(self._url)} answered {status}" + (
            f": {detail}" if detail else ""
        )
        request = f"POST {display_url(self._url)}"
        if status in (400, 401, 403):
            return AuthenticationFailed(
                message,
                status=status,
                request=request,
                detail=detail,
                hint=f"check {self._credential_flags()}",
            )
        hint = "check auth.authUrl or --auth-url" if status < 500 else "try again later"
        return ServiceError(
            message, status=status, request=request, detail=detail, hint=hint
        )

    def _credential_flags(self) -> str:
        flags = list(CLIENT_PAIR)
        if self._config.token_request.account_id_param:
            flags.append("--account-id")
        return ", ".join(flags) + " or their BATON_* variables"


def _user_agent() -> str:
    from . import __version__

    return f"baton-scim/{__version__}"


def _client_basic(client_id: str, secret: SecretStr) -> str:
    # RFC 6749 §2.3.1: the client id and secret are form-encoded before
    # they are joined; the same as Basic for the plain ids services issue.
    username = quote_plus(client_id)
    return basic_header(username, SecretStr(quote_plus(secret.get_secret_value())))


def _token_url(config: AuthConfig) -> str:
    if not config.auth_url or not config.token_path:
        raise ConfigError(
            "obtaining a token needs auth.authUrl and auth.tokenPath",
            hint="set both in the provider description",
        )
    shape = config.token_request
    if shape.style == "query" and shape.client_auth == "body":
        # RFC 6749 §2.3.1: client credentials never go in the request URI.
        raise ConfigError(
            "auth.tokenRequest: style 'query' would put the client secret in the URL",
            hint="use clientAuth: basic, or style: form",
        )
    return config.auth_url


def _usable_seconds(lifetime: float) -> float:
    margin = min(RENEW_MARGIN_SECONDS, lifetime / 10)
    return max(lifetime - margin, lifetime / 2)


def _seconds(value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return DEFAULT_LIFETIME_SECONDS
    return seconds if seconds > 0 else DEFAULT_LIFETIME_SECONDS


def _token_retry_delay(
    outcome: httpx.Response | httpx.HTTPError, attempt: int
) -> float | None:
    if attempt >= TOKEN_ATTEMPTS:
        return None
    if isinstance(outcome, httpx.Response):
        if outcome.status_code not in TOKEN_RETRY_STATUSES:
            return None
        told = parse_retry_after(outcome.headers.get("Retry-After"))
        if told is not None:
            return min(told, TOKEN_RETRY_MAX_SECONDS)
    elif tls_failure(outcome):
        return None  # a certificate does not fix itself
    return TOKEN_RETRY_BASE_SECONDS * 2 ** (attempt - 1)


def _outcome_text(outcome: httpx.Response | httpx.HTTPError) -> str:
    if isinstance(outcome, httpx.Response):
        return str(outcome.status_code)
    return _transport_text(outcome)


def _transport_text(error: httpx.HTTPError) -> str:
    return tls_failure(error) or type(error).__name__


def _oauth_error(response: httpx.Response) -> str | None:
    """RFC 6749 §5.2 ``error`` and ``error_description``, when the body has them."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    parts = [body.get("error"), body.get("error_description") or body.get("reason")]
    text = ": ".join(part for part in parts if isinstance(part, str) and part)
    return text or None


# -- URLs and origins ----------------------------------------------------------


def origin_of(url: str) -> Origin:
    """The scheme, host and port of a URL (RFC 6454 §4)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, (parts.hostname or "").lower(), port


def _origin_text(origin: Origin) -> str:
    scheme, host, port = origin
    return f"{scheme}://{host}:{port}"


def display_url(url: str) -> str:
    """A URL as messages show it: no user info, no query (either may hold a secret)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    port = f":{parts.port}" if parts.port else ""
    if not parts.scheme:
        return parts.path
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def _warn_cleartext(url: str, what: str) -> None:
    scheme, host, _ = origin_of(url)
    if scheme == "http" and not _is_loopback(host):
        logger.warning(
            "%s goes to %s without TLS: anyone on the way can read it",
            what,
            display_url(url),
        )


# -- Trust ---------------------------------------------------------------------


def trust_context(ca_bundle: Path) -> ssl.SSLContext:
    """Verify TLS against a PEM CA bundle (--ca-bundle) instead of the defaults.

    A folder is read as OpenSSL's hashed certificate directory (c_rehash).
    """
    try:
        if ca_bundle.is_dir():
            return ssl.create_default_context(capath=str(ca_bundle))
        return ssl.create_default_context(cafile=str(ca_bundle))
    except FileNotFoundError:
        raise ConfigError(
            f"--ca-bundle (BATON_CA_BUNDLE): {ca_bundle}: no such file",
            hint="name a PEM file of CA certificates",
        ) from None
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise ConfigError(
            f"--ca-bundle (BATON_CA_BUNDLE): {ca_bundle}: not a PEM bundle of CA "
            "certificates "
            f"({type(exc).__name__})",
            hint="name a PEM file of CA certificates",
        ) from None


# -- Choosing the method -------------------------------------------------------

MethodKind = Literal["basic", "bearer", "api_key", "client_credentials"]


@dataclass(frozen=True)
class Method:
    """The method a run uses, and the credential flags it takes."""

    kind: MethodKind
    used: tuple[str, ...]


def build_auth(provider: ProviderContext, credentials: Credentials) -> httpx.Auth:
    """Choose the method from the description's auth type and the credentials."""
    config = provider.config.auth
    _check_header_safe(credentials)
    redactor.add(*credentials.secrets())

    method = choose_method(provider.name, config, credentials)
    ignored = [flag for flag in credentials.given() if flag not in method.used]
    if ignored:
        logger.warning(
            "ignoring %s: the %s provider authenticates with %s",
            ", ".join(named(flag) for flag in ignored),
            provider.name,
            ", ".join(method.used),
        )
    _warn_cleartext(provider.config.api_endpoint, "the SCIM credential")
    return _method_auth(provider, credentials, method)


def choose_method(
    provider: str, config: AuthConfig, credentials: Credentials
) -> Method:
    """The method the rules of this module pick; CredentialsError when none fits."""
    if config.auth_type == "basic":
        return _basic_method(provider, credentials)
    if config.should_obtain_token:
        return _obtaining_method(provider, config, credentials)
    return _static_method(provider, config, credentials)


def _basic_method(provider: str, credentials: Credentials) -> Method:
    missing = [
        named(flag)
        for flag, value in (
            ("--username", credentials.username),
            ("--password", credentials.password),
        )
        if not value
    ]
    if missing:
        raise CredentialsError(
            f"the {provider} provider uses basic authentication: "
            f"{' and '.join(missing)} missing",
            hint="pass both --username and --password: auth.authType is basic",
        )
    if ":" in (credentials.username or ""):
        # RFC 7617 §2: the user-id cannot contain a colon.
        raise CredentialsError(
            "--username (BATON_USERNAME) contains ':', which basic authentication "
            "cannot carry",
            hint="check the username",
        )
    return Method("basic", ("--username", "--password"))


def _obtaining_method(
    provider: str, config: AuthConfig, credentials: Credentials
) -> Method:
    pair = (credentials.client_id, credentials.client_secret)
    if any(pair) and not all(pair):
        absent = CLIENT_PAIR[0] if not credentials.client_id else CLIENT_PAIR[1]
        raise CredentialsError(
            f"obtaining a token needs {named(absent)} too",
            hint="pass both --scim-client-id and --scim-client-secret",
        )
    if all(pair):
        return _client_credentials_method(provider, config, credentials)
    if credentials.token or credentials.api_key:
        return _static_method(provider, config, credentials)
    raise CredentialsError(
        f"the {provider} provider obtains its token: {named(CLIENT_PAIR[0])} and "
        f"{named(CLIENT_PAIR[1])} missing",
        hint="pass the client credentials, or a --token obtained elsewhere",
    )


def _client_credentials_method(
    provider: str, config: AuthConfig, credentials: Credentials
) -> Method:
    used: tuple[str, ...] = CLIENT_PAIR
    if config.token_request.account_id_param:
        if not credentials.account_id:
            raise CredentialsError(
                f"the {provider} provider obtains its token for an account: "
                f"{named('--account-id')} missing",
                hint="pass the account ID shown with the client credentials",
            )
        used = (*CLIENT_PAIR, "--account-id")
    return Method("client_credentials", used)


def _static_method(
    provider: str, config: AuthConfig, credentials: Credentials
) -> Method:
    kind: MethodKind = "api_key" if config.auth_type == "apiKey" else "bearer"
    order = ("--api-key", "--token") if kind == "api_key" else ("--token", "--api-key")
    values = {"--token": credentials.token, "--api-key": credentials.api_key}
    for flag in order:
        if values[flag]:
            return Method(kind, (flag,))

    if credentials.client_id or credentials.client_secret:
        raise CredentialsError(
            f"the {provider} provider does not obtain tokens (auth.shouldObtainToken "
            f"is false), so {' and '.join(CLIENT_PAIR)} cannot be used",
            hint=f"pass {order[0]}, or set auth.shouldObtainToken, "
            "auth.authUrl and auth.tokenPath in the description",
        )
    raise CredentialsError(
        f"the {provider} provider ({config.auth_type}) needs {named(order[0])} "
        f"or {named(order[1])}",
        hint=f"pass {order[0]} with the service's {_secret_word(kind)}",
    )


def _secret_word(kind: MethodKind) -> str:
    return "API key" if kind == "api_key" else "access token"


def _method_auth(
    provider: ProviderContext, credentials: Credentials, method: Method
) -> httpx.Auth:
    config = provider.config.auth
    origin = provider.config.api_endpoint
    if method.kind == "basic":
        assert credentials.username and credentials.password
        return BasicAuth(credentials.username, credentials.password, origin)
    if method.kind == "client_credentials":
        assert credentials.client_id and credentials.client_secret
        _warn_cleartext(config.auth_url or "", "the client secret")
        return ClientCredentialsAuth(
            config,
            credentials.client_id,
            credentials.client_secret,
            credentials.account_id,
            transport=provider.options.get("token_transport"),
            verify=provider.options.get("verify", True),
            origin=origin,
        )

    secret = credentials.token if method.used == ("--token",) else credentials.api_key
    assert secret is not None
    if method.kind == "api_key":
        return HeaderAuth(config.api_key_prefix or None, secret, origin)
    return HeaderAuth("Bearer", secret, origin)


def _check_header_safe(credentials: Credentials) -> None:
    """Refuse a value that would break the header it goes in (RFC 9110 §5.5)."""
    values = {
        "--token": credentials.token,
        "--api-key": credentials.api_key,
        "--username": credentials.username,
        "--password": credentials.password,
        "--scim-client-id": credentials.client_id,
        "--scim-client-secret": credentials.client_secret,
        "--account-id": credentials.account_id,
    }
    for flag, value in values.items():
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if text and any(ord(char) < 32 or ord(char) == 127 for char in text):
            raise CredentialsError(
                f"{named(flag)} holds a line break or a control character",
                hint="copy the value again without the trailing newline",
            )
