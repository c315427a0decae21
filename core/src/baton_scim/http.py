"""The HTTP side of SCIM: one async httpx client per run.

It sets the SCIM media types, retries what is safe to retry (429, 502,
503, 504 and dropped connections) honouring ``Retry-After``, caps response
sizes, refuses redirects (credentials never follow them to another origin)
and turns error answers into errors that say the status, the service's
detail and what to do.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from .errors import (
    AuthenticationFailed,
    ProtocolError,
    ServiceError,
    TransportError,
)
from .provider import ProviderContext

logger = logging.getLogger(__name__)

SCIM_MEDIA_TYPE = "application/scim+json"
RETRY_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
CONNECT_ATTEMPTS = 3


@dataclass
class ClientStats:
    """What one run asked of the service."""

    requests: int = 0
    retries: int = 0
    waited_seconds: float = 0.0
    bytes_received: int = 0


@dataclass
class RetryPolicy:
    """How many times, and for how long in all, a request is tried again."""

    max_attempts: int = 6
    max_wait_seconds: float = 120.0
    base_delay: float = 0.5
    max_delay: float = 30.0
    retry_non_idempotent: bool = False


class ScimClient:
    """The run's client: base URL, auth, media types, retries and errors."""

    def __init__(
        self,
        provider: ProviderContext,
        auth: httpx.Auth,
        *,
        timeout: float = 300.0,
        concurrency: int | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: Any = True,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        config = provider.config
        self.provider = provider
        self.stats = ClientStats()
        self.retry = RetryPolicy(
            max_attempts=config.http.max_attempts,
            max_wait_seconds=config.http.max_retry_wait_seconds,
            retry_non_idempotent=config.http.retry_non_idempotent,
        )
        self.max_body_bytes = max_body_bytes
        self._slots = asyncio.Semaphore(concurrency or config.pagination.concurrency)
        media = SCIM_MEDIA_TYPE if config.has_scim_header else "application/json"
        self.content_type = media
        self._client = httpx.AsyncClient(
            base_url=_base_url(config.api_endpoint),
            auth=auth,
            headers={"Accept": media, "User-Agent": _user_agent()},
            timeout=timeout,
            transport=transport,
            verify=verify,
            follow_redirects=False,
        )

    async def __aenter__(self) -> ScimClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get_json(self, path: str, params: dict[str, str] | None = None) -> Any:
        """GET a JSON document; errors for error statuses and unreadable bodies."""
        response, body = await self.send("GET", path, params=params)
        return self.decode(response, body)

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[httpx.Response, bytes]:
        """Send one request with retries; returns the response and its body."""
        request = self._build(method, path, params, json_body, headers)
        waited = 0.0
        for attempt in range(1, self.retry.max_attempts + 1):
            outcome = await self._attempt(request)
            delay = self._retry_delay(request, outcome, attempt, waited)
            if delay is None:
                return self._finish(request, outcome)
            waited += delay
            self.stats.retries += 1
            self.stats.waited_seconds += delay
            logger.info(
                "retrying %s %s in %.1fs (attempt %d)",
                method,
                _shown(request),
                delay,
                attempt + 1,
            )
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # the last attempt always finishes

    def _build(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None,
        json_body: Any,
        headers: dict[str, str] | None,
    ) -> httpx.Request:
        content = None
        all_headers = dict(headers or {})
        if json_body is not None:
            content = json.dumps(json_body).encode()
            all_headers.setdefault("Content-Type", self.content_type)
        return self._client.build_request(
            method,
            path.lstrip("/"),
            params=params,
            content=content,
            headers=all_headers,
        )

    async def _attempt(
        self, request: httpx.Request
    ) -> httpx.Response | httpx.HTTPError:
        async with self._slots:
            started = time.perf_counter()
            try:
                response = await self._client.send(request, stream=True)
                body = await self._read_capped(response)
            except (httpx.TransportError, httpx.DecodingError) as exc:
                logger.info(
                    "%s %s failed: %s",
                    request.method,
                    _shown(request),
                    type(exc).__name__,
                )
                return exc
            finally:
                self.stats.requests += 1
        elapsed = (time.perf_counter() - started) * 1000
        logger.info(
            "%s %s %d %.0fms",
            request.method,
            _shown(request),
            response.status_code,
            elapsed,
        )
        response._content = body  # keep the bytes we already read
        return response

    async def _read_capped(self, response: httpx.Response) -> bytes:
        chunks = []
        size = 0
        try:
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self.max_body_bytes:
                    raise ProtocolError(
                        f"{_label(response.request)}: the answer "
                        f"is larger than {self.max_body_bytes // (1024 * 1024)} MiB",
                        hint="lower pagination.pageSize, or check the endpoint",
                    )
                chunks.append(chunk)
        finally:
            await response.aclose()
        self.stats.bytes_received += size
        return b"".join(chunks)

    def _retry_delay(
        self,
        request: httpx.Request,
        outcome: httpx.Response | httpx.HTTPError,
        attempt: int,
        waited: float,
    ) -> float | None:
        if attempt >= self.retry.max_attempts or not self._may_retry(
            request, outcome, attempt
        ):
            return None
        delay = self._delay_for(outcome, attempt)
        if waited + delay > self.retry.max_wait_seconds:
            return None
        return delay

    def _may_retry(
        self,
        request: httpx.Request,
        outcome: httpx.Response | httpx.HTTPError,
        attempt: int,
    ) -> bool:
        safe = request.method in IDEMPOTENT or self.retry.retry_non_idempotent
        if isinstance(outcome, httpx.Response):
            if outcome.status_code == 429:
                return True  # a 429 was not carried out: always safe to repeat
            return outcome.status_code in RETRY_STATUSES and safe
        if tls_failure(outcome):
            return False  # a certificate the client refuses does not heal
        if isinstance(outcome, httpx.ConnectError | httpx.ConnectTimeout):
            # The request never reached the service, so a retry is safe; a
            # refused connection rarely heals quickly, so only a few tries.
            return attempt < CONNECT_ATTEMPTS
        return safe

    def _delay_for(
        self, outcome: httpx.Response | httpx.HTTPError, attempt: int
    ) -> float:
        if isinstance(outcome, httpx.Response):
            told = parse_retry_after(outcome.headers.get("Retry-After"))
            if told is not None:
                return min(told, self.retry.max_wait_seconds)
        ceiling = min(self.retry.max_delay, self.retry.base_delay * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    def _finish(
        self, request: httpx.Request, outcome: httpx.Response | httpx.HTTPError
    ) -> tuple[httpx.Response, bytes]:
        if isinstance(outcome, httpx.HTTPError):
            raise TransportError(
                f"{request.method} {_shown(request)}: {_describe(outcome)}",
                hint="check apiEndpoint and the network, or try again later",
            )
        if 300 <= outcome.status_code < 400:
            raise self._redirect_error(request, outcome)
        if outcome.status_code >= 400:
            raise self._status_error(request, outcome)
        return outcome, outcome.content

    def _redirect_error(
        self, request: httpx.Request, response: httpx.Response
    ) -> ServiceError:
        target = response.headers.get("Location", "elsewhere")
        return ServiceError(
            f"{_label(request)}: the service redirects to {target}",
            status=response.status_code,
            request=_label(request),
            hint="set apiEndpoint to the final URL; credentials never follow redirects",
        )

    def _status_error(
        self, request: httpx.Request, response: httpx.Response
    ) -> ServiceError:
        status = response.status_code
        detail = self._detail(response)
        shown = f"{request.method} {_shown(request)}"
        message = f"{shown}: the service answered {status}" + (
            f": {detail}" if detail else ""
        )
        error = AuthenticationFailed if status in (401, 403) else ServiceError
        return error(
            message,
            status=status,
            request=shown,
            detail=detail,
            scim_type=_scim_type(response),
            hint=_status_hint(status),
        )

    def _detail(self, response: httpx.Response) -> str | None:
        try:
            body = json.loads(response.content)
        except ValueError:
            return None
        hooks = self.provider.hooks
        if hooks is None:
            return error_detail(body)
        detail: str | None = hooks.baton_scim_error_detail(
            provider=self.provider, status=response.status_code, body=body
        )
        return detail

    def decode(self, response: httpx.Response, body: bytes) -> Any:
        """Parse a JSON body, or explain why it is not JSON."""
        request = response.request
        try:
            return json.loads(body)
        except ValueError:
            kind = response.headers.get("Content-Type", "no content type")
            raise ProtocolError(
                f"{request.method} {_shown(request)}: the answer is not JSON ({kind})",
                hint="check apiEndpoint: it must point at the SCIM base URL",
            ) from None


def error_detail(body: Any) -> str | None:
    """The explanation in an error body of any common shape.

    RFC 7644 §3.12 ``detail``; Zoom ``{"code", "message"}``; Postman
    ``{"error": {"name", "message"}}``; Slack v1 ``{"Errors": {...}}``.
    """
    if not isinstance(body, dict):
        return None
    for key in ("detail", "message", "error_description", "description"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    for key in ("error", "Errors"):
        nested = body.get(key)
        nested = nested[0] if isinstance(nested, list) and nested else nested
        if isinstance(nested, dict):
            return error_detail(nested)
        if isinstance(nested, str) and nested:
            return nested
    return None


def _scim_type(response: httpx.Response) -> str | None:
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    value = body.get("scimType") if isinstance(body, dict) else None
    return value if isinstance(value, str) else None


def _status_hint(status: int) -> str:
    hints = {
        400: "the service found the request malformed; check the provider description",
        401: "check the credentials (--token, --api-key, --username/--password, "
        "or --scim-client-id/--scim-client-secret)",
        403: "the credentials lack a permission the SCIM API needs; use an admin token",
        404: "check apiEndpoint and the ID",
        409: "the change conflicts with the service's current state",
        412: "the resource changed meanwhile; try again",
        429: "the service kept rate-limiting; try again later",
    }
    if status >= 500:
        return "the service failed; try again later"
    return hints.get(status, "see the service's detail above")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value.

    RFC 9110 allows delta-seconds or an HTTP date; Zoom documents an
    ISO 8601 timestamp for its daily limits. A date in the past means now.
    """
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    moment = _http_date(value) or _iso_date(value)
    if moment is None:
        return None
    now = now or datetime.now(UTC)
    return max((moment - now).total_seconds(), 0.0)


def _http_date(value: str) -> datetime | None:
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _iso_date(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _base_url(endpoint: str) -> str:
    return endpoint if endpoint.endswith("/") else endpoint + "/"


def _label(request: httpx.Request) -> str:
    return f"{request.method} {_shown(request)}"


def _shown(request: httpx.Request) -> str:
    """The path and query of a request: never the host's credentials."""
    url = request.url
    return url.raw_path.decode("ascii", "replace")


def tls_failure(error: BaseException) -> str | None:
    """What failed in TLS certificate verification, with what to do; else None."""
    cause: BaseException | None = error
    for _ in range(8):  # httpx wraps httpcore, which wraps the ssl error
        if cause is None or isinstance(cause, ssl.SSLCertVerificationError):
            break
        cause = cause.__cause__ or cause.__context__
    if not isinstance(cause, ssl.SSLCertVerificationError):
        return None
    reason = getattr(cause, "verify_message", None) or "certificate verify failed"
    return (
        f"TLS certificate verification failed ({reason}); if the service uses "
        "a private CA, pass --ca-bundle FILE (BATON_CA_BUNDLE)"
    )


def _describe(error: httpx.HTTPError) -> str:
    tls = tls_failure(error)
    if tls:
        return tls
    names = {
        "ConnectError": "cannot connect",
        "ConnectTimeout": "timed out connecting",
        "ReadTimeout": "timed out waiting for the answer",
        "RemoteProtocolError": "the connection was dropped",
        "ReadError": "the connection failed while reading",
    }
    return names.get(type(error).__name__, type(error).__name__)


def _user_agent() -> str:
    from . import __version__

    return f"baton-scim/{__version__}"
