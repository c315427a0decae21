"""The HTTP side of SCIM: one async httpx client per run.

It sets the SCIM media types, retries what is safe to retry (429, 502,
503, 504 and dropped connections) honouring ``Retry-After``, admits
requests through a ``Throttle`` (adaptive concurrency, the description's
request rate, pauses the service asked for), bounds each attempt in time
and size, refuses redirects (credentials never follow them to another
origin) and turns error answers into errors that say the request, the
status, the service's detail and what to do.

What is retried (RFC 9110 §9.2.2 idempotence): a 429 always, since the
service did not act on the request; a connection that could not be opened
always, since nothing was sent; 502/503/504 and lost answers only for
idempotent methods, or for every method when the description sets
``http.retryNonIdempotent``.
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
import msgspec

from .errors import (
    AuthenticationFailed,
    ProtocolError,
    ServiceError,
    TransportError,
)
from .provider import ProviderContext
from .ratelimit import RequestRate, Throttle

logger = logging.getLogger(__name__)

SCIM_MEDIA_TYPE = "application/scim+json"
RETRY_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
MIB = 1024 * 1024
# A refused connection rarely heals within seconds: a few tries, not all.
CONNECT_ATTEMPTS = 3
# Failures that happen before a byte of the request left: always safe.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

Outcome = httpx.Response | httpx.HTTPError


@dataclass
class ClientStats:
    """What one run asked of the service."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0
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
        max_body_bytes: int | None = None,
    ) -> None:
        config = provider.config
        self.provider = provider
        self.stats = ClientStats()
        self.retry = RetryPolicy(
            max_attempts=config.http.max_attempts,
            max_wait_seconds=config.http.max_retry_wait_seconds,
            base_delay=config.http.retry_base_delay_seconds,
            retry_non_idempotent=config.http.retry_non_idempotent,
        )
        self.max_body_bytes = max_body_bytes or config.http.max_response_mb * MIB
        self.timeout = timeout
        self.throttle = Throttle(
            concurrency or config.pagination.concurrency, _request_rate(provider)
        )
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

    def label(
        self, method: str, path: str, params: dict[str, str] | None = None
    ) -> str:
        """How messages name a request: method, path and query, no host."""
        request = self._client.build_request(method, path.lstrip("/"), params=params)
        return _label(request)

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
        attempt = 1
        while True:
            outcome = await self._attempt(request)
            delay = self._retry_delay(request, outcome, attempt, waited)
            if delay is None:
                return self._finish(request, outcome, attempt)

            waited += delay
            self.stats.retries += 1
            self.stats.waited_seconds += delay
            logger.info(
                "retrying %s in %.1fs (attempt %d of %d)",
                _label(request),
                delay,
                attempt + 1,
                self.retry.max_attempts,
            )
            await asyncio.sleep(delay)
            attempt += 1

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

    async def _attempt(self, request: httpx.Request) -> Outcome:
        """One try, admitted by the throttle, which learns from its answer."""
        async with self.throttle.admitted() as generation:
            started = time.perf_counter()
            outcome = await self._exchange(request)
            self.stats.requests += 1
        self._observe(outcome, generation)

        if isinstance(outcome, httpx.Response):
            # A line per answer is detail: a 100k-user sync makes a thousand,
            # which would bury the progress display. Error answers stay in view.
            elapsed = (time.perf_counter() - started) * 1000
            level = logging.INFO if outcome.status_code >= 400 else logging.DEBUG
            shown = _label(request)
            logger.log(level, "%s %d %.0fms", shown, outcome.status_code, elapsed)
        else:
            logger.info("%s failed: %s", _label(request), _describe(outcome))
        return outcome

    async def _exchange(self, request: httpx.Request) -> Outcome:
        """Send and read the whole answer within the per-request timeout.

        httpx's read timeout bounds each read, not the answer: a service
        that trickles bytes would hold a request forever without this
        deadline.
        """
        try:
            async with asyncio.timeout(self.timeout):
                response = await self._client.send(request, stream=True)
                body = await self._read_capped(response)
        except TimeoutError:
            return httpx.ReadTimeout("no complete answer in time", request=request)
        except (httpx.TransportError, httpx.DecodingError) as exc:
            return exc
        response._content = body  # keep the bytes we already read
        return response

    async def _read_capped(self, response: httpx.Response) -> bytes:
        chunks = []
        size = 0
        try:
            self._check_declared_size(response)
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self.max_body_bytes:
                    raise self._too_large(response.request)
                chunks.append(chunk)
        finally:
            await response.aclose()
        self.stats.bytes_received += size
        return b"".join(chunks)

    def _check_declared_size(self, response: httpx.Response) -> None:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            raise self._too_large(response.request)

    def _too_large(self, request: httpx.Request) -> ProtocolError:
        limit = self.max_body_bytes / MIB
        return ProtocolError(
            f"{_label(request)}: the answer is larger than {limit:g} MiB",
            hint="lower --page-size, or raise --max-response-mb "
            "(http.maxResponseMb) if pages really are that large",
        )

    def _observe(self, outcome: Outcome, generation: int) -> None:
        """Tell the throttle what the service said about its load."""
        if not isinstance(outcome, httpx.Response):
            return
        if outcome.status_code == 429:
            self.stats.throttled += 1
            self.throttle.throttled(generation)
        elif outcome.status_code < 400:
            self.throttle.succeeded()
        if outcome.status_code in RETRY_STATUSES:
            told = parse_retry_after(outcome.headers.get("Retry-After"))
            if told is not None and told <= self.retry.max_wait_seconds:
                self.throttle.pause(told)

    def _retry_delay(
        self, request: httpx.Request, outcome: Outcome, attempt: int, waited: float
    ) -> float | None:
        """Seconds to wait before the next try, or None to stop trying."""
        if attempt >= self.retry.max_attempts:
            return None
        if not self._may_retry(request, outcome, attempt):
            return None

        remaining = self.retry.max_wait_seconds - waited
        told = _retry_after(outcome)
        if told is not None and told > remaining:
            raise self._over_budget(request, outcome, told)
        if told is not None:
            return told
        delay = self._backoff(attempt)
        if delay > 0 and remaining <= 0:
            return None  # the waiting budget is spent: report the last answer
        return min(delay, max(remaining, 0.0))

    def _may_retry(
        self, request: httpx.Request, outcome: Outcome, attempt: int
    ) -> bool:
        safe = request.method in IDEMPOTENT or self.retry.retry_non_idempotent
        if isinstance(outcome, httpx.Response):
            if outcome.status_code == 429:
                return True  # the service did not act on it: always safe
            return outcome.status_code in RETRY_STATUSES and safe
        if tls_failure(outcome):
            return False  # a certificate the client refuses does not heal
        if isinstance(outcome, NOT_SENT):
            return attempt < CONNECT_ATTEMPTS
        return safe

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: half to all of base * 2^(n-1)."""
        ceiling = min(self.retry.max_delay, self.retry.base_delay * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    def _finish(
        self, request: httpx.Request, outcome: Outcome, attempts: int
    ) -> tuple[httpx.Response, bytes]:
        tries = f" ({attempts} attempts)" if attempts > 1 else ""
        if isinstance(outcome, httpx.HTTPError):
            raise TransportError(
                f"{_label(request)}: {self._describe_failure(outcome)}{tries}",
                hint=_transport_hint(outcome),
            )
        if 300 <= outcome.status_code < 400:
            raise self._redirect_error(request, outcome)
        if outcome.status_code >= 400:
            raise self._status_error(request, outcome, tries)
        return outcome, outcome.content

    def _describe_failure(self, error: httpx.HTTPError) -> str:
        text = _describe(error)
        if isinstance(error, httpx.TimeoutException):
            text += f" (after {self.timeout:g}s)"
        return text

    def _over_budget(
        self, request: httpx.Request, outcome: Outcome, seconds: float
    ) -> ServiceError:
        status = outcome.status_code if isinstance(outcome, httpx.Response) else 0
        budget = self.retry.max_wait_seconds
        return ServiceError(
            f"{_label(request)}: the service answered {status} and asks to wait "
            f"{seconds:.0f}s (Retry-After), more than the {budget:g}s "
            "allowed for retries",
            status=status,
            request=_label(request),
            hint="run again later, or raise --max-retry-wait-seconds "
            "(http.maxRetryWaitSeconds)",
        )

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
        self, request: httpx.Request, response: httpx.Response, tries: str = ""
    ) -> ServiceError:
        status = response.status_code
        detail = self._detail(response)
        shown = _label(request)
        message = f"{shown}: the service answered {status}" + (
            f": {detail}" if detail else ""
        )
        error = AuthenticationFailed if status in (401, 403) else ServiceError
        return error(
            message + tries,
            status=status,
            request=shown,
            detail=detail,
            scim_type=_scim_type(response),
            hint=_status_hint(status),
        )

    def _detail(self, response: httpx.Response) -> str | None:
        body = _json_or_none(response.content)
        if body is None:
            return None
        hooks = self.provider.hooks
        if hooks is None:
            return error_detail(body)
        detail: str | None = hooks.baton_scim_error_detail(
            provider=self.provider, status=response.status_code, body=body
        )
        return detail

    def decode(self, response: httpx.Response, body: bytes) -> Any:
        """Parse a JSON body, or explain in one line why it is not JSON."""
        try:
            return parse_json(body)
        except (ValueError, RecursionError) as error:
            raise ProtocolError(
                f"{_label(response.request)}: {_not_json(response, body, error)}",
                hint="check apiEndpoint: it must point at the SCIM base URL, "
                "and the token must reach the API rather than a sign-in page",
            ) from None


async def close_after(client: ScimClient, done: str | None) -> None:
    """Close the client; a signal that comes once the work is done undoes nothing.

    ``done`` says what happened (``"the sync was written to sync.c1z"``),
    or is None while nothing has happened. What the work does after its
    last request (renaming the c1z, judging the answer to a PATCH) does
    not await, so a SIGINT or SIGTERM arriving then is delivered at the
    close's first suspension (over TLS it waits for close_notify). The
    work is done by then: the run reports it as done, with a warning,
    rather than as interrupted.
    """
    try:
        await client.aclose()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if done is None or task is None:
            raise
        task.uncancel()
        logger.warning("asked to stop after %s; that stands", done)


def _request_rate(provider: ProviderContext) -> RequestRate | None:
    limit = provider.config.http.rate_limit
    if limit is None:
        return None
    return RequestRate(limit.requests, limit.per_seconds)


def _retry_after(outcome: Outcome) -> float | None:
    if not isinstance(outcome, httpx.Response):
        return None
    return parse_retry_after(outcome.headers.get("Retry-After"))


def _not_json(response: httpx.Response, body: bytes, error: Exception) -> str:
    """Why a body is not JSON, in words a user can act on."""
    kind = response.headers.get("Content-Type", "no content type")
    if not body.strip():
        return f"the answer is empty, not JSON ({kind})"
    if "html" in kind.lower() or body.lstrip()[:1] == b"<":
        return f"the answer is an HTML page, not JSON ({kind})"
    if isinstance(error, RecursionError):
        return "the answer is JSON nested too deeply to read"
    return f"the answer is not JSON ({kind}, {len(body)} bytes): {error}"


_decoder = msgspec.json.Decoder()


def parse_json(body: bytes) -> Any:
    """Parse a JSON body: msgspec, or the standard library for what it refuses.

    msgspec reads a page in about 60% of the standard library's time, with
    the same values (integers of any size included). What it refuses,
    the standard library still reads (NaN, UTF-16 bodies) or explains.
    """
    try:
        return _decoder.decode(body)
    except msgspec.DecodeError:
        return json.loads(body)


def _json_or_none(content: bytes) -> Any:
    try:
        return parse_json(content)
    except (ValueError, RecursionError):
        return None


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
    body = _json_or_none(response.content)
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
        "WriteTimeout": "timed out sending the request",
        "PoolTimeout": "timed out waiting for a free connection",
        "RemoteProtocolError": "the connection was dropped",
        "ReadError": "the connection failed while reading",
        "DecodingError": "the answer's compression is broken",
    }
    return names.get(type(error).__name__, type(error).__name__)


def _transport_hint(error: httpx.HTTPError) -> str:
    if isinstance(error, httpx.TimeoutException):
        return "raise --http-timeout-seconds, or try again later"
    return "check apiEndpoint and the network, or try again later"


def _user_agent() -> str:
    from . import __version__

    return f"baton-scim/{__version__}"
