"""A token endpoint and an authentication gate on 127.0.0.1, for the auth tests.

scim2-server knows one method, a static bearer token. ``AuthGate`` stands
in front of it (as ``ScimServer(app_wrapper=...)``, see ``gated_server``)
and admits only requests that carry the exact ``Authorization`` header of
the method under test (``AuthGate.expect``); what it admits goes on to
scim2-server with the server's own token, so the SCIM answers stay real.
Its checks:

- ``exact_header(value)``: one exact header, as a bearer token (RFC 6750
  §2.1, Slack, Miro) or an API key with its prefix or none (Okta's
  ``SSWS key``, Go's Postman description without prefix).
- ``basic_credentials(user, password)``: RFC 7617 Basic, as custom SCIM
  services behind a web server ask.
- ``IssuedTokens(tokens, uses_per_token=N)``: a bearer token the
  ``TokenServer`` issued. With ``uses_per_token``, a token is refused (401)
  after N requests: Zoom invalidates a saved S2S token when another client
  of the app asks for a new one (providers.md §2.2, SailPoint's note), and
  any token can be revoked before its ``expires_in``.
- ``echo_status``: answer every admitted request with this status and a
  detail that quotes the credential back, as a misconfigured proxy or a
  verbose gateway does; it shows that what a server echoes is redacted.

``TokenServer`` is an OAuth2 token endpoint that checks the exact token
request a description's ``auth.tokenRequest`` shapes (``TokenRequestShape``)
and refuses any other with 400 ``invalid_request`` naming the difference
(kept in ``mismatches``). Its modes, and what each reproduces:

- ``issue`` (default): 200 ``{access_token, token_type: "bearer",
  expires_in}`` and no refresh token, RFC 6749 §4.4.3 and §5.1. With the
  ``zoom_s2s`` shape, Zoom Server-to-Server OAuth (providers.md §2.2):
  ``POST /oauth/token?grant_type=account_credentials&account_id=...`` with
  ``Authorization: Basic base64(client_id:client_secret)``, tokens of
  3600 s. The default shape is Azure AD's client-credentials grant (a form
  body, RFC 6749 §4.4.2). ``nest`` puts the token under a key, for a
  ``tokenPath`` that is not ``access_token``.
- ``refuse``: 401 ``{"error": "invalid_client", "error_description"}``,
  RFC 6749 §5.2, what Zoom and Azure AD answer to a wrong client secret;
  with ``echo`` the description quotes the credentials it got.
- ``unavailable``: 503 every time, an identity provider outage.
- ``redirect``: 302 to ``redirect_to``, a token URL that moved.
- ``html``: 200 with an HTML sign-in page, a proxy or captive portal in
  the way.

``redirector`` answers every request with a 302 elsewhere and
``RecordingServer`` records whatever reaches it (a redirect's target).
``self_signed_certificate`` makes a certificate for 127.0.0.1 with the
``openssl`` command, and ``LocalServer`` serves any WSGI app, over TLS
when given one.
"""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any, Literal, Self
from urllib.parse import parse_qsl, quote_plus
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import yaml
from baton_scim.serving import Served

from .fake_scim import RecordedRequest, status_phrase
from .scim_server import ScimServer, read_environ

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
TokenMode = Literal["issue", "refuse", "unavailable", "redirect", "html"]


# -- Serving -------------------------------------------------------------------


class _Threading(ThreadingMixIn, WSGIServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up or refuse our certificate are expected."""


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing: the servers record what they need."""

    def get_environ(self) -> dict[str, Any]:
        """Drop the text/plain wsgiref invents for a request without a type."""
        environ = super().get_environ()
        if self.headers.get("Content-Type") is None:
            environ.pop("CONTENT_TYPE", None)
        return environ


@dataclass(frozen=True)
class TlsFiles:
    """A PEM certificate and its key."""

    certificate: Path
    key: Path


class LocalServer(Served):
    """Serves a WSGI app on a free port of 127.0.0.1, over TLS when given files."""

    def __init__(self, app: WSGIApplication, tls: TlsFiles | None = None) -> None:
        self.app = app
        self.tls = tls
        self._origin = ""

    def listen(self) -> tuple[WSGIServer, str]:
        """Listen on a free port, the socket wrapped in TLS when asked."""
        server = make_server(
            "127.0.0.1", 0, self.app, server_class=_Threading, handler_class=_Quiet
        )
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.tls.certificate, self.tls.key)
            # Handshake in each connection's own thread, not in accept(): a
            # client that connects and stalls must not block the others.
            server.socket = context.wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False
            )
        scheme = "https" if self.tls else "http"
        self._origin = f"{scheme}://127.0.0.1:{server.server_port}"
        return server, f"local-{scheme}-{server.server_port}"

    @property
    def origin(self) -> str:
        """``http(s)://127.0.0.1:PORT``; kept after stopping, for messages."""
        if not self._origin:
            raise RuntimeError("the server was never started")
        return self._origin


def self_signed_certificate(directory: Path) -> TlsFiles:
    """A certificate for 127.0.0.1, valid for a day, that is its own CA."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("the openssl command is needed to make a certificate")
    files = TlsFiles(directory / "cert.pem", directory / "key.pem")
    subprocess.run(
        [
            openssl, "req", "-x509", "-nodes", "-days", "1",
            "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-keyout", str(files.key), "-out", str(files.certificate),
            "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,digitalSignature,keyCertSign",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return files


def _json(
    start_response: StartResponse,
    status: int,
    payload: Any,
    headers: Iterable[tuple[str, str]] = (),
    content_type: str = "application/json",
) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response(
        f"{status} {status_phrase(status)}",
        [("Content-Type", content_type), *headers],
    )
    return [body]


# -- The token endpoint --------------------------------------------------------


@dataclass(frozen=True)
class TokenRequestShape:
    """The exact token request a ``TokenServer`` accepts."""

    client_id: str
    client_secret: str
    style: Literal["form", "json", "query"] = "form"
    grant_type: str = "client_credentials"
    client_auth: Literal["basic", "body"] = "basic"
    account_param: str | None = None
    account_id: str | None = None
    scope: str | None = None

    @classmethod
    def zoom_s2s(cls, client_id: str, client_secret: str, account_id: str) -> Self:
        """Zoom Server-to-Server OAuth (providers.md §2.2)."""
        return cls(
            client_id,
            client_secret,
            style="query",
            grant_type="account_credentials",
            account_param="account_id",
            account_id=account_id,
        )

    def parameters(self) -> dict[str, str]:
        """The parameters the request must carry, wherever its style puts them."""
        params = {"grant_type": self.grant_type}
        if self.scope:
            params["scope"] = self.scope
        if self.account_param and self.account_id:
            params[self.account_param] = self.account_id
        if self.client_auth == "body":
            params["client_id"] = self.client_id
            params["client_secret"] = self.client_secret
        return params

    def basic_header(self) -> str:
        """RFC 6749 §2.3.1: both parts form-encoded, then Basic."""
        raw = f"{quote_plus(self.client_id)}:{quote_plus(self.client_secret)}"
        return "Basic " + base64.b64encode(raw.encode()).decode()

    def differences(self, request: RecordedRequest) -> list[str]:
        """What in a request differs from this shape; empty when it fits."""
        found = [] if request.method == "POST" else [f"method {request.method}"]
        found += self._client_auth_differences(request)
        body, query = self._body_params(request), request.query
        expected = self.parameters()
        if self.style == "query":
            found += _compare("query", query, expected)
            found += [] if not request.body else ["a body was sent"]
        else:
            found += _compare("body", body, expected)
            found += [] if not query else [f"query {sorted(query)} was sent"]
        return found

    def _client_auth_differences(self, request: RecordedRequest) -> list[str]:
        header = request.header("authorization")
        if self.client_auth == "basic" and header != self.basic_header():
            return ["no or a wrong Basic client authentication"]
        if self.client_auth == "body" and header is not None:
            return ["an Authorization header was sent"]
        return []

    def _body_params(self, request: RecordedRequest) -> dict[str, str] | str:
        kind = (request.header("content-type") or "").split(";")[0]
        if not request.body:
            return {}
        if self.style == "json" and kind == "application/json":
            data = request.json
            return data if isinstance(data, dict) else "not a JSON object"
        if self.style == "form" and kind == "application/x-www-form-urlencoded":
            return dict(parse_qsl(request.body.decode(), keep_blank_values=True))
        return f"a {kind or 'untyped'} body"


def _compare(where: str, got: dict[str, str] | str, expected: dict[str, str]) -> list:
    if isinstance(got, str):
        return [f"{where}: {got}"]
    if got == expected:
        return []
    return [f"{where} has {sorted(got)} instead of {sorted(expected)}"]


class TokenServer:
    """An OAuth2 token endpoint on 127.0.0.1 (see the module docstring)."""

    def __init__(
        self,
        shape: TokenRequestShape,
        *,
        mode: TokenMode = "issue",
        expires_in: int | None = 3600,
        nest: str | None = None,
        echo: bool = False,
        redirect_to: str = "",
        path: str = "/oauth/token",
        tls: TlsFiles | None = None,
    ) -> None:
        self.shape = shape
        self.mode = mode
        self.expires_in = expires_in
        self.nest = nest
        self.echo = echo
        self.redirect_to = redirect_to
        self.path = path
        self.requests: list[RecordedRequest] = []
        self.mismatches: list[list[str]] = []
        self.issued: list[str] = []
        self._lock = threading.Lock()
        self._server = LocalServer(self, tls)

    def __enter__(self) -> Self:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()

    @property
    def url(self) -> str:
        """The token URL, for ``auth.authUrl``."""
        return self._server.origin + self.path

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        """Record the request, check its shape, answer as the mode says."""
        request = read_environ(environ)
        with self._lock:
            self.requests.append(request)
        if request.path != self.path:
            return _json(start_response, 404, {"error": "not_found"})
        if self.mode != "issue":
            return self._failure(request, start_response)

        differences = self.shape.differences(request)
        if differences:
            with self._lock:
                self.mismatches.append(differences)
            description = "; ".join(differences)
            payload = {"error": "invalid_request", "error_description": description}
            return _json(start_response, 400, payload)
        return _json(start_response, 200, self._grant(), _no_store())

    def _grant(self) -> dict[str, Any]:
        token = f"issued-{secrets.token_hex(12)}"
        with self._lock:
            self.issued.append(token)
        grant: dict[str, Any] = {"access_token": token, "token_type": "bearer"}
        if self.expires_in is not None:
            grant["expires_in"] = self.expires_in
        return {self.nest: grant} if self.nest else grant

    def _failure(
        self, request: RecordedRequest, start_response: StartResponse
    ) -> Iterable[bytes]:
        if self.mode == "refuse":
            said = f" (got {request.header('authorization')} {request.body!r})"
            description = "Invalid client credentials" + (said if self.echo else "")
            payload = {"error": "invalid_client", "error_description": description}
            return _json(start_response, 401, payload)
        if self.mode == "unavailable":
            return _json(start_response, 503, {"error": "temporarily_unavailable"})
        if self.mode == "redirect":
            start_response("302 Found", [("Location", self.redirect_to)])
            return [b""]
        start_response("200 OK", [("Content-Type", "text/html")])
        return [b"<html><body><form>Sign in</form></body></html>"]


def _no_store() -> list[tuple[str, str]]:
    # RFC 6749 §5.1: token answers are not cached.
    return [("Cache-Control", "no-store"), ("Pragma", "no-cache")]


# -- The gate in front of scim2-server -----------------------------------------


Admits = Callable[[str | None], bool]


def exact_header(value: str) -> Admits:
    """Admit one exact Authorization header value (a token or an API key)."""
    return lambda got: got == value


def basic_credentials(username: str, password: str) -> Admits:
    """Admit RFC 7617 Basic credentials."""
    raw = f"{username}:{password}".encode()
    return exact_header("Basic " + base64.b64encode(raw).decode())


class AuthGate:
    """WSGI middleware that admits one method's credentials (module docstring).

    ``seen`` holds the Authorization header of every request from the
    connector, ``refused`` counts the 401 answers. ``expect`` sets what to
    admit next and forgets both, so one seeded server serves many tests.
    """

    def __init__(self, admits: Admits | None = None) -> None:
        self.admits: Admits = admits or (lambda got: False)
        self.echo_status: int | None = None
        self.inner_token = ""
        self.app: WSGIApplication | None = None
        self.seen: list[str | None] = []
        self.refused = 0
        self._lock = threading.Lock()

    def wrap(self, app: WSGIApplication) -> Self:
        """Stand in front of an application."""
        self.app = app
        return self

    def expect(self, admits: Admits, echo_status: int | None = None) -> Self:
        """Admit these credentials from now on; forget what was seen."""
        with self._lock:
            self.admits, self.echo_status = admits, echo_status
            self.seen.clear()
            self.refused = 0
        return self

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        """Admit, refuse or echo; admitted requests reach scim2-server."""
        assert self.app is not None, "AuthGate wraps no application"
        got = environ.get("HTTP_AUTHORIZATION")
        if got == f"Bearer {self.inner_token}":
            return self.app(environ, start_response)  # seeding by the test
        with self._lock:
            self.seen.append(got)
            admitted = self.admits(got)
            self.refused += 0 if admitted else 1
        if not admitted:
            return _scim_error(start_response, 401, "Invalid credentials")
        if self.echo_status is not None:
            return _scim_error(start_response, self.echo_status, f"rejected {got}")
        environ["HTTP_AUTHORIZATION"] = f"Bearer {self.inner_token}"
        return self.app(environ, start_response)


class IssuedTokens:
    """Admits tokens a TokenServer issued, each for at most N requests."""

    def __init__(self, tokens: TokenServer, uses_per_token: int | None = None) -> None:
        self.tokens = tokens
        self.limit = uses_per_token
        self.uses: dict[str, int] = {}

    def __call__(self, header: str | None) -> bool:
        token = (header or "").removeprefix("Bearer ")
        if not header or token not in self.tokens.issued:
            return False
        used = self.uses.get(token, 0)
        if self.limit is not None and used >= self.limit:
            return False
        self.uses[token] = used + 1
        return True


def _scim_error(start_response: StartResponse, status: int, detail: str) -> list:
    payload = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail}
    headers = [("WWW-Authenticate", 'Bearer realm="SCIM"')] if status == 401 else []
    return _json(start_response, status, payload, headers, "application/scim+json")


def gated_server(gate: AuthGate, **kwargs: Any) -> ScimServer:
    """A scim2-server behind ``gate``, with a token only the gate and tests know."""
    gate.inner_token = f"inner-{secrets.token_hex(8)}"
    return ScimServer(gate.inner_token, app_wrapper=gate.wrap, **kwargs)


# -- Redirects -----------------------------------------------------------------


def redirector(location: str) -> WSGIApplication:
    """Answers every request with 302 to ``location`` plus the request path.

    A service that moved, or a load balancer sending HTTP to HTTPS; Miro
    warns that tools handle its redirects badly (providers.md §2.3).
    """

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        target = location.rstrip("/") + environ.get("PATH_INFO", "")
        start_response("302 Found", [("Location", target), ("Content-Length", "0")])
        return [b""]

    return app


class RecordingServer:
    """Records every request that reaches it and answers an empty JSON object."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._server = LocalServer(self)

    def __enter__(self) -> Self:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self._server.origin

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        """Record the request and answer 200."""
        self.requests.append(read_environ(environ))
        return _json(start_response, 200, {})


# -- Descriptions --------------------------------------------------------------

SCIM2_SERVER_DESCRIPTION = Path(__file__).parents[1] / "data" / "scim2-server.yaml"


def write_description(
    path: Path, endpoint: str, auth: dict[str, Any], **pagination: Any
) -> Path:
    """The scim2-server description with this endpoint and auth section."""
    data = yaml.safe_load(SCIM2_SERVER_DESCRIPTION.read_text())
    data["apiEndpoint"] = endpoint
    data["auth"] = auth
    data["pagination"].update(pagination)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
