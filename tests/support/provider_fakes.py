"""What the provider suites share: a token endpoint, run contexts, requests.

``TokenEndpoint`` is a small OAuth2 token endpoint on 127.0.0.1 that hands
out numbered tokens (``zoom-token-1``, ``zoom-token-2``...) and records each
token request. ``prepare_provider`` builds a provider's run context the way
the CLI does; ``change`` and ``send`` ask a provider's provisioning hook for
a request and send it through the run's SCIM client, as the provisioning
executor will.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from baton_scim.http import ScimClient
from baton_scim.provider import Credentials, ProviderContext
from baton_scim.provisioning import Action, Change, ProvisioningRequest
from baton_scim.records import RoleRef
from baton_scim.runtime import prepare
from baton_scim.serving import Served
from baton_scim.settings import Settings
from pydantic import SecretStr

from .fake_scim import RecordedRequest


class TokenEndpoint(Served):
    """An OAuth2 token endpoint that issues ``<prefix>-<n>`` tokens.

    ``token`` makes it issue that one token every time instead (the token a
    test server expects). ``accept`` sees each token request and says
    whether the client is who it claims to be; a refused request gets 401
    ``invalid_client``.
    """

    def __init__(
        self,
        prefix: str = "token",
        *,
        path: str = "/oauth/token",
        expires_in: int = 3600,
        token: str | None = None,
        accept: Callable[[RecordedRequest], bool] | None = None,
    ) -> None:
        self.prefix = prefix
        self.token = token
        self.path = path
        self.expires_in = expires_in
        self.accept = accept
        self.requests: list[RecordedRequest] = []
        self.issued: list[str] = []
        self._lock = threading.Lock()

    def listen(self) -> tuple[ThreadingHTTPServer, str]:
        """The token endpoint on a free port of 127.0.0.1."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), _TokenHandler)
        server.daemon_threads = True
        server.endpoint = self  # type: ignore[attr-defined]
        return server, f"token-endpoint-{server.server_port}"

    @property
    def url(self) -> str:
        """The token URL, such as http://127.0.0.1:PORT/oauth/token."""
        return f"http://127.0.0.1:{self.port}{self.path}"

    def answer(self, request: RecordedRequest) -> tuple[int, dict[str, Any]]:
        """Record a token request and issue the next token, or refuse it."""
        with self._lock:
            self.requests.append(request)
            if request.method != "POST" or request.path != self.path:
                return 404, {"error": "not_found"}
            if self.accept is not None and not self.accept(request):
                return 401, {"error": "invalid_client"}
            token = self.token or f"{self.prefix}-{len(self.issued) + 1}"
            self.issued.append(token)
        return 200, {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": self.expires_in,
            "scope": "scim2",
        }


class _TokenHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests read ``TokenEndpoint.requests``."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        parts = urlsplit(self.path)
        request = RecordedRequest(
            method=self.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=self.rfile.read(length) if length else b"",
            query_string=parts.query,
        )
        status, payload = self.server.endpoint.answer(request)  # type: ignore[attr-defined]
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST


def prepare_provider(
    name: str,
    endpoint: str,
    *,
    token: str | None = None,
    api_key: str | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    account_id: str | None = None,
    auth_url: str | None = None,
) -> ProviderContext:
    """The run context of an installed provider, as the CLI builds it."""
    credentials = Credentials(
        token=SecretStr(token) if token else None,
        api_key=SecretStr(api_key) if api_key else None,
        client_id=client_id,
        client_secret=SecretStr(client_secret) if client_secret else None,
        account_id=account_id,
    )
    settings = Settings(
        service_provider=name,
        credentials=credentials,
        api_endpoint=endpoint,
        auth_url=auth_url,
    )
    return prepare(settings)


def change(
    context: ProviderContext,
    action: Action,
    user_id: str,
    *,
    group_id: str | None = None,
    role: RoleRef | None = None,
    current: dict[str, Any] | None = None,
    version: str | None = None,
) -> Change:
    """A change as the executor builds it, with the description's entry."""
    provisioning = context.config.provisioning
    operation = getattr(provisioning, action, None) if provisioning else None
    assert operation is not None, f"{context.name} has no {action} entry"
    return Change(action, user_id, operation, group_id, role, current, version)


def request_for(context: ProviderContext, change: Change) -> ProvisioningRequest:
    """Ask the provider's hooks (then the core's) for the request of a change."""
    request: ProvisioningRequest = context.hook.baton_scim_provisioning_request(
        provider=context, change=change
    )
    return request


def send(context: ProviderContext, request: ProvisioningRequest) -> tuple[int, bytes]:
    """Send a provisioning request through the run's client: status and body."""

    async def run() -> tuple[int, bytes]:
        async with ScimClient(context, context.options["auth"]) as client:
            response, body = await client.send(
                request.method,
                request.path,
                json_body=request.body,
                headers=request.headers or None,
            )
        return response.status_code, body

    return asyncio.run(run())


def sent(request: RecordedRequest) -> tuple[str, str, str]:
    """A recorded request as (method, path, query string), for comparisons."""
    return (request.method, request.path, request.query_string)
