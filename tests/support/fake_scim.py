"""A small hand-made SCIM server, for what a real SCIM server cannot show.

``FakeScim`` serves raw SCIM JSON from memory exactly as given (fixed ids such
as those of the Go reference fixture), and can reproduce what real providers
do that scim2-server never does: page caps, lists without paging fields, 204
answers to PATCH, vendor error bodies, rate limits, gateway errors, dropped
connections and broken bodies.

Faults are small objects tried in order before the normal handler; the first
one that answers wins. Every helper takes a seed, so a test sees the same
faults on every run as long as it sends its requests in the same order.

Routes (under ``base_path``):

- ``GET /ServiceProviderConfig`` (no token needed, as RFC 7644 §4 allows);
- ``GET /Users`` and ``GET /Groups`` with ``startIndex`` and ``count``;
- ``GET``, ``PUT`` and ``PATCH`` of ``/Users/{id}`` and ``/Groups/{id}``.

Other query parameters (``filter``, ``attributes`` ...) are recorded but not
applied.
"""

from __future__ import annotations

import copy
import itertools
import json
import random
import re
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import parse_qsl, unquote, urlsplit

from baton_scim.serving import Served

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SERVICE_PROVIDER_CONFIG = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
SCIM_JSON = "application/scim+json"

#: The Go reference directory, kept in the repository's test data.
GO_REFERENCE_DIRECTORY = (
    Path(__file__).resolve().parents[1] / "data" / "go-reference" / "directory.json"
)

ErrorStyle = Literal["scim", "zoom", "postman"]


# -- What is recorded and answered ---------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it, before any fault or check."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""
    query_string: str = ""

    @property
    def json(self) -> Any:
        """The decoded JSON body, or None when the body is empty or not JSON."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    def header(self, name: str) -> str | None:
        """Return a header by its case-insensitive name."""
        return self.headers.get(name.lower())


@dataclass
class Response:
    """An answer: status, headers and body bytes.

    A response made by ``Response.error_reply`` has an empty body and an ``error``
    detail; the server that sends it writes the body in its own error style.
    """

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None

    @classmethod
    def error_reply(
        cls, status: int, detail: str, headers: Mapping[str, str] | None = None
    ) -> Response:
        """Build an error answer whose body the server renders in its style."""
        return cls(status, dict(headers or {}), b"", detail)

    @property
    def json(self) -> Any:
        """The decoded JSON body, or None when the body is empty or not JSON."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


class Drop:
    """Close the connection without sending any answer."""

    def __repr__(self) -> str:
        return "DROP"


DROP = Drop()

Reply = Response | Drop | None


def json_response(status: int, payload: Any, content_type: str = SCIM_JSON) -> Response:
    """Build a JSON answer with the given media type."""
    body = json.dumps(payload, ensure_ascii=False).encode()
    return Response(status, {"Content-Type": content_type}, body)


def error_payload(
    style: ErrorStyle, status: int, detail: str, scim_type: str | None = None
) -> dict[str, Any]:
    """Return an error body as a provider of the given style writes it."""
    if style == "zoom":
        return {"code": status, "message": detail}
    if style == "postman":
        name = status_phrase(status).replace(" ", "")
        return {"error": {"name": name, "message": detail}, "status": "error"}

    payload: dict[str, Any] = {"schemas": [ERROR], "status": str(status)}
    if scim_type:
        payload["scimType"] = scim_type
    payload["detail"] = detail
    return payload


def render_error(
    response: Response, style: ErrorStyle = "scim", content_type: str = SCIM_JSON
) -> Response:
    """Write the body of an error reply (``Response.error_reply``) in a style."""
    if response.error is None or response.body:
        return response
    payload = error_payload(style, response.status, response.error)
    rendered = json_response(response.status, payload, content_type)
    rendered.headers.update(response.headers)
    return rendered


def status_phrase(status: int) -> str:
    """Return the reason phrase of a status, or "Unknown" for a made-up one."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


# -- Faults --------------------------------------------------------------------


class Fault:
    """A hook tried before the normal handler, which may answer in its place.

    ``before`` returns a ``Response``, ``DROP``, or None to let the request
    through. ``after`` sees every response actually sent, so that a fault
    can remember one.
    """

    def before(self, request: RecordedRequest) -> Reply:
        """Answer a request instead of the server, or return None."""
        return None

    def after(self, request: RecordedRequest, response: Response) -> None:
        """Observe a response the server sent."""


def first_reply(
    hooks: Iterable[Callable[[RecordedRequest], Reply]], request: RecordedRequest
) -> Reply:
    """Return the answer of the first hook that gives one, or None."""
    for hook in hooks:
        reply = hook(request)
        if reply is not None:
            return reply
    return None


class CannedFault(Fault):
    """Answer some of the matching requests with a reply built by ``make``.

    A request matches when its path contains ``path_contains`` and, if given,
    its method is ``method``. A seeded draw keeps a ``fraction`` of them, and
    ``times`` (None for no limit) bounds how often the fault fires.
    """

    def __init__(
        self,
        make: Callable[[RecordedRequest], Response | Drop],
        *,
        path_contains: str = "",
        method: str | None = None,
        fraction: float = 1.0,
        times: int | None = None,
        seed: int = 0,
    ) -> None:
        self.make = make
        self.path_contains = path_contains
        self.method = method
        self.fraction = fraction
        self.times = times
        self.rng = random.Random(seed)
        self.fired = 0

    def before(self, request: RecordedRequest) -> Reply:
        """Answer with the canned reply when the request is picked."""
        if not self._matches(request):
            return None
        if self.times is not None and self.fired >= self.times:
            return None
        if self.rng.random() >= self.fraction:
            return None

        self.fired += 1
        return self.make(request)

    def _matches(self, request: RecordedRequest) -> bool:
        """Tell whether a request is one this fault may answer."""
        if self.method and request.method != self.method.upper():
            return False
        return self.path_contains in request.path


def rate_limit(
    fraction: float,
    retry_after: str | None = "1",
    seed: int = 0,
    *,
    path_contains: str = "",
    times: int | None = None,
) -> CannedFault:
    """Answer 429 Too Many Requests to a seeded fraction of the requests.

    ``retry_after`` is sent as is, so a test can use delta-seconds or an
    HTTP date (Slack and Zoom send one or the other); None sends no header.
    """
    headers = {"Retry-After": retry_after} if retry_after is not None else {}

    def make(_: RecordedRequest) -> Response:
        return Response.error_reply(429, "Too many requests", headers)

    return CannedFault(
        make, path_contains=path_contains, fraction=fraction, times=times, seed=seed
    )


def server_errors(
    fraction: float,
    statuses: Iterable[int] = (502, 503, 504),
    seed: int = 0,
    *,
    path_contains: str = "",
    times: int | None = None,
) -> CannedFault:
    """Answer a seeded fraction of the requests with a gateway error page.

    The status is drawn from ``statuses``; the body is plain text, as a
    proxy in front of the SCIM service writes it.
    """
    choices = tuple(statuses)
    pick = random.Random(seed + 1).choice

    def make(_: RecordedRequest) -> Response:
        status = pick(choices)
        body = f"{status} {status_phrase(status)}\n".encode()
        return Response(status, {"Content-Type": "text/plain"}, body)

    return CannedFault(
        make, path_contains=path_contains, fraction=fraction, times=times, seed=seed
    )


def drop_connection_once(path_contains: str = "") -> CannedFault:
    """Close the connection of the first matching request without answering."""
    return CannedFault(lambda _: DROP, path_contains=path_contains, times=1)


def invalid_json(path_contains: str = "", times: int | None = 1) -> CannedFault:
    """Answer 200 with a truncated JSON body, as a cut-off response looks."""
    body = b'{"schemas": ["' + LIST_RESPONSE.encode() + b'"], "totalResults": 3, "Re'

    def make(_: RecordedRequest) -> Response:
        return Response(200, {"Content-Type": SCIM_JSON}, body)

    return CannedFault(make, path_contains=path_contains, times=times)


def html_error_page(path_contains: str = "", times: int | None = 1) -> CannedFault:
    """Answer 200 with an HTML page, as an SSO portal or captive proxy does."""
    body = (
        b"<!DOCTYPE html><html><head><title>Sign in</title></head>"
        b"<body><h1>Please sign in to continue</h1></body></html>"
    )

    def make(_: RecordedRequest) -> Response:
        return Response(200, {"Content-Type": "text/html; charset=utf-8"}, body)

    return CannedFault(make, path_contains=path_contains, times=times)


def huge_body(
    nbytes: int, path_contains: str = "", times: int | None = 1
) -> CannedFault:
    """Answer 200 with a valid ListResponse padded to at least ``nbytes``."""
    head = json.dumps(
        {"schemas": [LIST_RESPONSE], "totalResults": 0, "Resources": [], "pad": ""}
    ).encode()
    body = head[:-2] + b"x" * max(0, nbytes - len(head)) + head[-2:]

    def make(_: RecordedRequest) -> Response:
        return Response(200, {"Content-Type": SCIM_JSON}, body)

    return CannedFault(make, path_contains=path_contains, times=times)


class ServePageTwice(Fault):
    """Answer the next page of a list with the previous page's body, once.

    This is what a client sees when records shift between two page requests
    (RFC 7644 §3.4.2.4 warns that index paging is not stateful): the same
    resources come back twice.
    """

    def __init__(self, path_contains: str = "/Users") -> None:
        self.path_contains = path_contains
        self.previous: Response | None = None
        self.done = False

    def before(self, request: RecordedRequest) -> Reply:
        """Serve the remembered page again to the first later page request."""
        if self.done or self.previous is None or not self._is_list(request):
            return None
        if _int(request.query.get("startIndex"), 1) <= 1:
            return None

        self.done = True
        return replace(self.previous, headers=dict(self.previous.headers))

    def after(self, request: RecordedRequest, response: Response) -> None:
        """Remember the last list page served."""
        if not self.done and self._is_list(request) and response.status == 200:
            self.previous = response

    def _is_list(self, request: RecordedRequest) -> bool:
        """Tell whether a request lists a collection this fault watches."""
        path = request.path.rstrip("/")
        return (
            request.method == "GET"
            and self.path_contains in path
            and path.endswith(("/Users", "/Groups"))
        )


def serve_page_twice(path_contains: str = "/Users") -> ServePageTwice:
    """Serve one list page twice in a row (see ``ServePageTwice``)."""
    return ServePageTwice(path_contains)


def _int(text: str | None, default: int) -> int:
    """Read an integer query parameter, falling back on a default."""
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


# -- PATCH (RFC 7644 §3.5.2) ---------------------------------------------------


class ScimError(Exception):
    """A request the fake refuses, with its HTTP status and scimType."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type


_PATH = re.compile(
    r"^(?P<attr>[A-Za-z$][\w$-]*)"
    r"(?:\[(?P<filter>[^\]]*)\])?"
    r"(?:\.(?P<sub>[A-Za-z$][\w$-]*))?$"
)
_COMPARISON = re.compile(
    r"\s*(?P<attr>[A-Za-z$][\w$-]*)\s+(?P<op>eq|ne)\s+"
    r'(?P<value>"(?:[^"\\]|\\.)*"|true|false|null|-?\d+(?:\.\d+)?)\s*',
    re.IGNORECASE,
)
_AND = re.compile(r"and\b", re.IGNORECASE)


@dataclass(frozen=True)
class _Comparison:
    """One ``attr eq value`` test of a value filter."""

    attr: str
    op: str
    value: Any

    def holds(self, item: Any) -> bool:
        """Tell whether a multi-valued item passes this test."""
        if not isinstance(item, dict):
            return False
        actual = item.get(_key(item, self.attr))
        return (actual == self.value) == (self.op == "eq")


@dataclass(frozen=True)
class _Path:
    """An attribute path: ``attr``, ``attr[filter]``, ``attr.sub``..."""

    attr: str
    filter: tuple[_Comparison, ...] | None
    sub: str | None

    def selects(self, item: Any) -> bool:
        """Tell whether the filter of the path selects an item."""
        return all(test.holds(item) for test in self.filter or ())


def parse_path(resource: Mapping[str, Any], text: str) -> _Path:
    """Parse a PATCH path, dropping the resource's own schema prefix."""
    for schema in resource.get("schemas", ()):
        if text.lower().startswith(f"{schema}:".lower()):
            text = text[len(schema) + 1 :]
    match = _PATH.match(text.strip())
    if match is None:
        raise ScimError(400, f"Unsupported path {text!r}", "invalidPath")

    raw_filter = match["filter"]
    tests = None if raw_filter is None else parse_filter(raw_filter)
    return _Path(match["attr"], tests, match["sub"])


def parse_filter(text: str) -> tuple[_Comparison, ...]:
    """Parse a value filter made of ``eq``/``ne`` tests joined by ``and``."""
    tests: list[_Comparison] = []
    position = 0
    while True:
        match = _COMPARISON.match(text, position)
        if match is None:
            raise ScimError(400, f"Unsupported filter {text!r}", "invalidFilter")
        value = json.loads(match["value"])
        tests.append(_Comparison(match["attr"], match["op"].lower(), value))
        position = match.end()
        if position == len(text):
            return tuple(tests)
        joiner = _AND.match(text, position)
        if joiner is None:
            raise ScimError(400, f"Unsupported filter {text!r}", "invalidFilter")
        position = joiner.end()


def apply_patch(resource: dict[str, Any], body: Any) -> dict[str, Any]:
    """Return a copy of a resource with the operations of a PatchOp applied.

    Supports add, remove and replace (any case), paths with value filters and
    sub-attributes, operations without path, and the common non-standard
    remove form that lists the values to remove (``path: members`` with
    ``value: [{"value": id}]``).
    """
    operations = body.get("Operations") if isinstance(body, dict) else None
    if not isinstance(operations, list):
        raise ScimError(400, "A PatchOp needs a list of Operations", "invalidSyntax")

    patched = copy.deepcopy(resource)
    for operation in operations:
        _apply_operation(patched, operation)
    return patched


def _apply_operation(resource: dict[str, Any], operation: Any) -> None:
    """Apply one PATCH operation to a resource in place."""
    if not isinstance(operation, dict):
        raise ScimError(400, "An operation must be an object", "invalidSyntax")
    op = str(operation.get("op", "")).lower()
    handler = _OPERATIONS.get(op)
    if handler is None:
        raise ScimError(400, f"Unknown operation {op!r}", "invalidSyntax")

    path, value = operation.get("path"), operation.get("value")
    if path is not None:
        handler(resource, parse_path(resource, str(path)), value)
        return
    if op == "remove":
        raise ScimError(400, "A remove operation needs a path", "noTarget")
    if not isinstance(value, dict):
        raise ScimError(
            400, "An operation without path needs an object", "invalidValue"
        )
    for name, item in value.items():
        handler(resource, parse_path(resource, name), item)


def _add(resource: dict[str, Any], path: _Path, value: Any) -> None:
    """Add values: append to multi-valued attributes, set the others."""
    if path.filter is not None:
        if path.sub is None:
            raise ScimError(
                400, "add takes no filter without sub-attribute", "invalidPath"
            )
        _replace(resource, path, value)
        return
    key = _key(resource, path.attr)
    if path.sub is not None:
        resource.setdefault(key, {})[_key(resource[key], path.sub)] = value
        return

    current = resource.get(key)
    if isinstance(current, list) or isinstance(value, list):
        merged = list(current or [])
        for item in value if isinstance(value, list) else [value]:
            if not any(_same(item, known) for known in merged):
                merged.append(item)
        resource[key] = merged
    elif isinstance(current, dict) and isinstance(value, dict):
        current.update(value)
    else:
        resource[key] = value


def _replace(resource: dict[str, Any], path: _Path, value: Any) -> None:
    """Replace values: whole attributes, filtered items or sub-attributes."""
    key = _key(resource, path.attr)
    if path.filter is None:
        current = resource.get(key)
        if path.sub is not None:
            resource.setdefault(key, {})[_key(resource[key], path.sub)] = value
        elif isinstance(current, dict) and isinstance(value, dict):
            current.update(value)
        else:
            resource[key] = value
        return

    targets = [item for item in resource.get(key) or [] if path.selects(item)]
    if not targets:
        raise ScimError(400, f"No value matches {path.attr}[...]", "noTarget")
    for item in targets:
        if path.sub is not None:
            item[_key(item, path.sub)] = value
        elif isinstance(value, dict):
            item.clear()
            item.update(value)
        else:
            raise ScimError(400, "A filtered replace needs an object", "invalidValue")


def _remove(resource: dict[str, Any], path: _Path, value: Any) -> None:
    """Remove values: filtered items, listed values, sub-attributes or all."""
    key = _key(resource, path.attr)
    current = resource.get(key)
    if path.filter is not None:
        _remove_selected(resource, key, path)
    elif path.sub is not None and isinstance(current, dict):
        current.pop(_key(current, path.sub), None)
    elif isinstance(current, list) and isinstance(value, list) and value:
        kept = [item for item in current if not any(_same(item, v) for v in value)]
        _store_list(resource, key, kept)
    else:
        resource.pop(key, None)


def _remove_selected(resource: dict[str, Any], key: str, path: _Path) -> None:
    """Remove the items a filter selects, or one sub-attribute of them."""
    items = resource.get(key) or []
    if path.sub is None:
        _store_list(resource, key, [item for item in items if not path.selects(item)])
        return
    for item in items:
        if path.selects(item):
            item.pop(_key(item, path.sub), None)


def _store_list(resource: dict[str, Any], key: str, items: list[Any]) -> None:
    """Store a multi-valued attribute; an empty one is unassigned (§3.5.2.2)."""
    if items:
        resource[key] = items
    else:
        resource.pop(key, None)


def _same(left: Any, right: Any) -> bool:
    """Tell whether two multi-valued items are the same (by their ``value``)."""
    if isinstance(left, dict) and isinstance(right, dict) and "value" in right:
        return left.get("value") == right.get("value")
    return bool(left == right)


def _key(mapping: Mapping[str, Any], name: str) -> str:
    """Return the key of a mapping that matches a SCIM name, ignoring case."""
    for key in mapping:
        if key.lower() == name.lower():
            return key
    return name


_OPERATIONS: dict[str, Callable[[dict[str, Any], _Path, Any], None]] = {
    "add": _add,
    "replace": _replace,
    "remove": _remove,
}


# -- The server ----------------------------------------------------------------


class FakeScim(Served):
    """A threaded SCIM server on 127.0.0.1 serving raw resources from memory.

    Every knob is off by default:

    - ``max_count``: cap the page size, as Slack answers at most 1000 items
      whatever ``count`` asks.
    - ``default_count``: page size without ``count`` (Slack 10, Postman 100);
      None serves everything left.
    - ``omit_paging_fields``: leave ``itemsPerPage`` and ``startIndex`` out of
      list responses, as Miro's documented group list does.
    - ``patch_status``: 204 answers PATCH with no body, as Slack does for
      groups; 200 (default) answers with the resource. A mapping such as
      ``{"Groups": 204}`` sets it per endpoint (200 for the others).
    - ``error_style``: "scim" (RFC 7644 §3.12), "zoom" (``{code, message}``)
      or "postman" (``{error: {name, message}, status: "error"}``).
    - ``content_type``: media type of the JSON answers; some providers send
      ``application/json``.
    - ``service_provider_config``: serve this document instead of the one
      built from the knobs, as vendors announce what they do not do.

    ``token`` requires ``Authorization: Bearer <token>``; ``auth_check`` gets
    the request headers (lower-case names) and says whether to let the
    request in; when both are given, both must pass. A refused request gets
    401 with ``WWW-Authenticate``.

    ``before_request`` and then ``faults`` are tried before the normal
    handler; see ``Fault``. ``requests`` records every request received.
    One lock serves the requests one at a time, so hooks need none.
    """

    def __init__(
        self,
        users: Iterable[dict[str, Any]] = (),
        groups: Iterable[dict[str, Any]] = (),
        *,
        base_path: str = "/scim/v2",
        token: str | None = None,
        auth_check: Callable[[Mapping[str, str]], bool] | None = None,
        max_count: int | None = None,
        default_count: int | None = None,
        omit_paging_fields: bool = False,
        patch_status: int | Mapping[str, int] = 200,
        error_style: ErrorStyle = "scim",
        content_type: str = SCIM_JSON,
        service_provider_config: dict[str, Any] | None = None,
        faults: Iterable[Fault] = (),
        before_request: Callable[[RecordedRequest], Reply] | None = None,
    ) -> None:
        self.base_path = "/" + base_path.strip("/") if base_path.strip("/") else ""
        self.token = token
        self.auth_check = auth_check
        self.max_count = max_count
        self.default_count = default_count
        self.omit_paging_fields = omit_paging_fields
        self.patch_status = patch_status
        self.error_style: ErrorStyle = error_style
        self.content_type = content_type
        self.service_provider_config = service_provider_config
        self.faults = list(faults)
        self.before_request = before_request
        self.requests: list[RecordedRequest] = []

        self._lock = threading.RLock()
        self._versions = itertools.count(1)
        self.users = [self._with_meta(user, "User") for user in users]
        self.groups = [self._with_meta(group, "Group") for group in groups]

    @classmethod
    def from_file(
        cls, path: str | Path = GO_REFERENCE_DIRECTORY, **kwargs: Any
    ) -> Self:
        """Serve a JSON file holding ``Users`` and ``Groups`` lists."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(data.get("Users", []), data.get("Groups", []), **kwargs)

    # -- Life cycle --

    def listen(self) -> tuple[_FakeHTTPServer, str]:
        """The fake on a free port of 127.0.0.1."""
        server = _FakeHTTPServer(("127.0.0.1", 0), _Handler)
        server.fake = self
        return server, f"fake-scim-{server.server_port}"

    @property
    def url(self) -> str:
        """The base URL of the SCIM endpoints, such as http://127.0.0.1:PORT/scim/v2."""
        return f"http://127.0.0.1:{self.port}{self.base_path}"

    def reset_requests(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self.requests.clear()

    # -- Request pipeline --

    def handle(self, request: RecordedRequest) -> Response | Drop:
        """Record a request, try the faults, then serve it normally."""
        with self._lock:
            self.requests.append(request)
            hooks: list[Callable[[RecordedRequest], Reply]] = []
            if self.before_request is not None:
                hooks.append(self.before_request)
            hooks += [fault.before for fault in self.faults]
            reply = first_reply(hooks, request)
            if reply is None:
                reply = self._serve(request)
            if isinstance(reply, Drop):
                return reply

            response = render_error(reply, self.error_style, self.content_type)
            for fault in self.faults:
                fault.after(request, response)
            return response

    def _serve(self, request: RecordedRequest) -> Response:
        """Route a request, turning refusals and bugs into SCIM errors."""
        try:
            return self._route(request)
        except ScimError as error:
            return self._error(error.status, error.detail, error.scim_type)
        except Exception as error:  # a bug of the fake: show it to the test
            return self._error(500, f"FakeScim failed: {error!r}", None)

    def _route(self, request: RecordedRequest) -> Response:
        """Dispatch a request to the handler of its method and path."""
        segments = self._segments(request.path)
        if segments == ["ServiceProviderConfig"] and request.method == "GET":
            return self._json(200, self._config())
        if not self._authorized(request):
            raise ScimError(401, "Authorization failure")

        match request.method, segments:
            case "GET", [endpoint]:
                return self._list(self._collection(endpoint), request.query)
            case "GET", [endpoint, resource_id]:
                return self._get(self._find(endpoint, resource_id))
            case "PATCH", [endpoint, resource_id]:
                return self._patch(endpoint, resource_id, request)
            case "PUT", [endpoint, resource_id]:
                return self._put(endpoint, resource_id, request)
        if len(segments) in (1, 2):
            raise ScimError(405, f"{request.method} is not served here")
        raise ScimError(404, f"No route for {request.path}")

    def _segments(self, path: str) -> list[str]:
        """Split a request path below the base path into decoded segments."""
        if not path.startswith(self.base_path):
            raise ScimError(404, f"{path} is outside {self.base_path or '/'}")
        rest = path[len(self.base_path) :]
        return [unquote(part) for part in rest.split("/") if part]

    def _authorized(self, request: RecordedRequest) -> bool:
        """Tell whether the token and the custom check both accept a request."""
        if self.token is not None:
            scheme, _, value = (request.header("Authorization") or "").partition(" ")
            if scheme.lower() != "bearer" or value.strip() != self.token:
                return False
        return self.auth_check is None or self.auth_check(request.headers)

    # -- Resources --

    def _collection(self, endpoint: str) -> list[dict[str, Any]]:
        """Return the resources served at an endpoint."""
        if endpoint == "Users":
            return self.users
        if endpoint == "Groups":
            return self.groups
        raise ScimError(404, f"Unknown endpoint /{endpoint}")

    def _find(self, endpoint: str, resource_id: str) -> dict[str, Any]:
        """Return a resource by id, or refuse with 404."""
        for resource in self._collection(endpoint):
            if resource.get("id") == resource_id:
                return resource
        raise ScimError(404, f"Resource {resource_id} not found")

    def _list(
        self, resources: list[dict[str, Any]], query: Mapping[str, str]
    ) -> Response:
        """Serve one page of a collection (RFC 7644 §3.4.2.4)."""
        start = max(1, _int(query.get("startIndex"), 1))
        count = self._page_size(query.get("count"))
        stop = None if count is None else start - 1 + count
        page = resources[start - 1 : stop]
        payload: dict[str, Any] = {"schemas": [LIST_RESPONSE]}
        payload["totalResults"] = len(resources)
        if not self.omit_paging_fields:
            payload["itemsPerPage"] = len(page)
            payload["startIndex"] = start
        payload["Resources"] = page
        return self._json(200, payload)

    def _page_size(self, requested: str | None) -> int | None:
        """Return how many items a page holds; None means all that are left."""
        count = self.default_count if requested is None else max(0, _int(requested, 0))
        if self.max_count is None:
            return count
        return self.max_count if count is None else min(count, self.max_count)

    def _get(self, resource: dict[str, Any]) -> Response:
        """Serve one resource with its ETag."""
        return self._json(200, resource, resource["meta"]["version"])

    def _patch(
        self, endpoint: str, resource_id: str, request: RecordedRequest
    ) -> Response:
        """Apply a PatchOp, then answer 200 with the resource or 204."""
        current = self._find(endpoint, resource_id)
        self._check_version(current, request)

        patched = apply_patch(current, request.json)
        self._store(endpoint, current, patched)
        version = patched["meta"]["version"]
        status = self.patch_status
        if not isinstance(status, int):
            status = status.get(endpoint, 200)
        if status == 204:
            return Response(204, {"ETag": version})
        return self._json(status, patched, version)

    def _put(
        self, endpoint: str, resource_id: str, request: RecordedRequest
    ) -> Response:
        """Replace a resource, keeping its id and meta, and answer 200."""
        current = self._find(endpoint, resource_id)
        self._check_version(current, request)
        body = request.json
        if not isinstance(body, dict):
            raise ScimError(400, "A PUT body must be a resource", "invalidSyntax")

        replaced = {**body, "id": current["id"], "meta": dict(current["meta"])}
        self._store(endpoint, current, replaced)
        return self._json(200, replaced, replaced["meta"]["version"])

    def _check_version(
        self, resource: dict[str, Any], request: RecordedRequest
    ) -> None:
        """Refuse with 412 a write whose If-Match names another version."""
        expected = request.header("If-Match")
        if expected is None:
            return
        tags = {tag.strip() for tag in expected.split(",")}
        if "*" not in tags and resource["meta"]["version"] not in tags:
            raise ScimError(412, "Resource has changed on the server")

    def _store(
        self, endpoint: str, current: dict[str, Any], new: dict[str, Any]
    ) -> None:
        """Put a new state of a resource in place of the current one."""
        new["meta"] = {**new.get("meta", {}), "version": self._next_version()}
        collection = self._collection(endpoint)
        collection[collection.index(current)] = new

    def _with_meta(self, resource: dict[str, Any], kind: str) -> dict[str, Any]:
        """Copy a loaded resource, giving it a ``meta.version`` if it has none."""
        resource = copy.deepcopy(resource)
        meta = resource.setdefault("meta", {})
        meta.setdefault("resourceType", kind)
        meta.setdefault("version", self._next_version())
        return resource

    def _next_version(self) -> str:
        """Return a fresh weak ETag; every write gets its own."""
        return f'W/"{next(self._versions)}"'

    # -- Answers --

    def _config(self) -> dict[str, Any]:
        """Return the ServiceProviderConfig, from the knobs unless overridden."""
        if self.service_provider_config is not None:
            return self.service_provider_config
        config: dict[str, Any] = {
            "schemas": [SERVICE_PROVIDER_CONFIG],
            "patch": {"supported": True},
            "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": False, "maxResults": 0},
            "changePassword": {"supported": False},
            "sort": {"supported": False},
            "etag": {"supported": True},
            "authenticationSchemes": [_BEARER_SCHEME] if self.token else [],
        }
        if self.max_count or self.default_count:
            config["pagination"] = {"cursor": False, "index": True}
            if self.default_count:
                config["pagination"]["defaultPageSize"] = self.default_count
            if self.max_count:
                config["pagination"]["maxPageSize"] = self.max_count
        return config

    def _json(self, status: int, payload: Any, etag: str | None = None) -> Response:
        """Build a JSON answer in the configured media type."""
        response = json_response(status, payload, self.content_type)
        if etag is not None:
            response.headers["ETag"] = etag
        return response

    def _error(self, status: int, detail: str, scim_type: str | None) -> Response:
        """Build an error answer in the configured error style."""
        payload = error_payload(self.error_style, status, detail, scim_type)
        response = json_response(status, payload, self.content_type)
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="SCIM"'
        return response


_BEARER_SCHEME = {
    "type": "oauthbearertoken",
    "name": "OAuth Bearer Token",
    "description": "Authentication with a static bearer token",
}


# -- HTTP plumbing -------------------------------------------------------------


class _FakeHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its FakeScim and stays quiet."""

    daemon_threads = True
    fake: FakeScim

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that hang up (faults do that on purpose), report the rest."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Turn HTTP/1.1 requests into ``RecordedRequest`` and write the answers."""

    protocol_version = "HTTP/1.1"
    server: _FakeHTTPServer
    # Headers and body go out in two writes; without this, Nagle's algorithm
    # and delayed ACKs hold every keep-alive answer back by about 40 ms.
    disable_nagle_algorithm = True
    # Idle keep-alive connections are closed after this many seconds.
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing: tests read ``FakeScim.requests`` instead."""

    def _serve(self) -> None:
        """Read, serve and answer one request."""
        reply = self.server.fake.handle(self._read_request())
        if isinstance(reply, Drop):
            self.close_connection = True
            return
        self._write(reply)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def _read_request(self) -> RecordedRequest:
        """Read the request line, headers and body."""
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        parts = urlsplit(self.path)
        return RecordedRequest(
            method=self.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            query_string=parts.query,
        )

    def _write(self, response: Response) -> None:
        """Send a response; 204 and 304 carry no body."""
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.status not in (204, 304):
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.status not in (204, 304):
            self.wfile.write(response.body)
