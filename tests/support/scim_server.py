"""A real scim2-server on 127.0.0.1, and helpers that seed it over its SCIM API.

``ScimServer`` embeds scim2-server 0.8.3 (in-memory storage, default RFC 7643
schemas, bearer-token authentication) behind a threading wsgiref server on a
random port. ``seed_directory`` fills it with a deterministic, realistic
directory through ``POST /Bulk``.

What scim2-server 0.8.3 does (tried by hand; ``tests/test_support_servers.py``
pins roles, inactive users, 401, page caps, PATCH and ETags):

- Users keep ``roles`` (``value``, ``display``...) and ``active: false`` as
  sent. Group members keep the ``value``/``display``/``type`` they were given:
  the server adds no ``display`` or ``$ref``, and accepts members whose id
  does not exist.
- Lists page by ``startIndex``/``count``; ``itemsPerPage`` is the number of
  resources returned. ``count`` is capped by ``filter.maxResults`` (1000) and,
  when ``max_page_size`` is set, by ``pagination.maxPageSize``. Lists are
  sorted by id, and ids are random: order is not creation order, and ids
  change from run to run.
- Every write takes the next ``W/"n"`` of one counter shared by all resources;
  answers carry ``ETag``, and an ``If-Match`` naming another version gets 412.
- PATCH answers 204 with an ``ETag`` and no body (200 with the resource only
  when ``attributes`` or ``excludedAttributes`` is asked). Value filters such
  as ``members[value eq "x"]`` work; the common non-standard remove form
  (``path: members`` with a ``value`` list) is refused with 400 invalidValue.
- ``POST /Bulk`` is on (1000 operations, 1 MiB); its answers give each
  resource's location and version, not its body.
- ``/ServiceProviderConfig`` needs no token; other requests without the token
  get 401 with ``WWW-Authenticate``.
- It never answers 429 or vendor-style errors: wrap the WSGI app with
  ``FaultMiddleware`` (faults of ``fake_scim``) for that.
"""

from __future__ import annotations

import io
import random
import socket
import sys
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from socketserver import ThreadingMixIn
from typing import Any, NamedTuple, Self
from urllib.parse import parse_qsl
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import httpx
from baton_scim.serving import Served
from scim2_models import Pagination, ScimProvider
from scim2_server.memory import InMemoryStorage
from scim2_server.testserver.application import (
    BEARER_TOKEN_SCHEME,
    BearerTokenApplication,
)
from scim2_server.utils import (
    load_default_resource_types,
    load_default_schemas,
    load_default_service_provider_config,
)

from .fake_scim import (
    Drop,
    Fault,
    RecordedRequest,
    Response,
    first_reply,
    render_error,
    status_phrase,
)

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"

#: The environ key under which the request handler exposes the client socket.
SOCKET_KEY = "tests.support.socket"

AppWrapper = Callable[[WSGIApplication], WSGIApplication]


# -- The server ----------------------------------------------------------------


class ScimServer(Served):
    """A scim2-server with in-memory storage on 127.0.0.1, as a context manager.

    ``url`` is the base of the SCIM endpoints (``http://127.0.0.1:PORT/v2``).
    ``max_page_size`` announces and enforces ``pagination.maxPageSize``
    (``default_page_size`` the size of a page asked without ``count``).
    ``app_wrapper`` wraps the WSGI application, for middleware such as
    ``RequestLog`` or ``FaultMiddleware``.
    """

    def __init__(
        self,
        token: str = "test-token",
        *,
        max_page_size: int | None = None,
        default_page_size: int | None = None,
        app_wrapper: AppWrapper | None = None,
    ) -> None:
        self.token = token
        self.scim_app = build_application(token, max_page_size, default_page_size)
        self.storage = self.scim_app.storage
        self.app: WSGIApplication = self.scim_app
        if app_wrapper is not None:
            self.app = app_wrapper(self.scim_app)

    def listen(self) -> tuple[WSGIServer, str]:
        """scim2-server (behind any wrapper) on a free port of 127.0.0.1."""
        server = make_server(
            "127.0.0.1",
            0,
            self.app,
            server_class=_ThreadingWSGIServer,
            handler_class=_QuietHandler,
        )
        return server, f"scim2-server-{server.server_port}"

    @property
    def url(self) -> str:
        """The base URL of the SCIM endpoints."""
        return f"http://127.0.0.1:{self.port}/v2"

    def client(self, **kwargs: Any) -> httpx.Client:
        """Return an httpx client on ``url`` that sends the bearer token."""
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        kwargs.setdefault("timeout", 10.0)
        return httpx.Client(base_url=self.url, headers=headers, **kwargs)


def build_application(
    token: str, max_page_size: int | None, default_page_size: int | None
) -> BearerTokenApplication:
    """Build the scim2-server WSGI application that accepts one bearer token.

    The bearer scheme is listed in the service provider configuration so
    that 401 answers carry ``WWW-Authenticate``.
    """
    config = load_default_service_provider_config()
    config.authentication_schemes = [BEARER_TOKEN_SCHEME]
    if max_page_size is not None or default_page_size is not None:
        config.pagination = Pagination(
            index=True,
            cursor=False,
            default_page_size=default_page_size,
            max_page_size=max_page_size,
        )

    provider = ScimProvider.from_discovery(
        load_default_schemas().values(),
        load_default_resource_types().values(),
        config=config,
    )
    return BearerTokenApplication(InMemoryStorage(), provider, bearer_tokens=[token])


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    """A wsgiref server that serves each connection in its own thread."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that hang up (faults do that on purpose), report the rest."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _QuietHandler(WSGIRequestHandler):
    """A wsgiref request handler that logs nothing and exposes its socket."""

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing: tests record requests with ``RequestLog``."""

    def get_environ(self) -> dict[str, Any]:
        """Add the client socket, so that a fault can drop the connection.

        wsgiref fills in ``text/plain`` when a request has no Content-Type;
        drop that, so that recorded requests show what the client sent.
        """
        environ = super().get_environ()
        if self.headers.get("Content-Type") is None:
            environ.pop("CONTENT_TYPE", None)
        environ[SOCKET_KEY] = self.connection
        return environ


# -- Middleware ----------------------------------------------------------------


def read_environ(
    environ: WSGIEnvironment, header_names: Iterable[str] | None = None
) -> RecordedRequest:
    """Record a WSGI request, putting its body back for the application.

    ``header_names`` selects the headers kept (all of them when None); names
    are stored in lower case.
    """
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)

    headers = _headers(environ)
    if header_names is not None:
        wanted = {name.lower() for name in header_names}
        headers = {name: value for name, value in headers.items() if name in wanted}
    query_string = environ.get("QUERY_STRING", "")
    return RecordedRequest(
        method=environ["REQUEST_METHOD"],
        path=environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""),
        query=dict(parse_qsl(query_string, keep_blank_values=True)),
        headers=headers,
        body=body,
        query_string=query_string,
    )


def _headers(environ: WSGIEnvironment) -> dict[str, str]:
    """Return the request headers of a WSGI environ, with lower-case names."""
    headers = {
        key[5:].replace("_", "-").lower(): value
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = environ[key]
    return headers


class RequestLog:
    """WSGI middleware that records every request it passes on.

    Use ``ScimServer(app_wrapper=log.wrap)`` and read ``log.entries``.
    ``headers`` selects the recorded headers (all when None).
    """

    def __init__(
        self,
        app: WSGIApplication | None = None,
        headers: Iterable[str] | None = None,
    ) -> None:
        self.app = app
        self.header_names = None if headers is None else tuple(headers)
        self.entries: list[RecordedRequest] = []
        self._lock = threading.Lock()

    def wrap(self, app: WSGIApplication) -> Self:
        """Put this log in front of an application, and return the log."""
        self.app = app
        return self

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        """Record the request, then let the application answer it."""
        if self.app is None:
            raise RuntimeError("RequestLog wraps no application")
        request = read_environ(environ, self.header_names)
        with self._lock:
            self.entries.append(request)
        return self.app(environ, start_response)

    def count(self, method: str | None = None, path_contains: str = "") -> int:
        """Count the recorded requests with this method and path part."""
        return sum(
            1
            for entry in list(self.entries)
            if (method is None or entry.method == method.upper())
            and path_contains in entry.path
        )

    def clear(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self.entries.clear()


class FaultMiddleware:
    """WSGI middleware that lets the faults of ``fake_scim`` answer first.

    It puts 429s, gateway errors, broken bodies and dropped connections in
    front of the real server. Error replies are written as SCIM errors.
    """

    def __init__(self, app: WSGIApplication, faults: Iterable[Fault]) -> None:
        self.app = app
        self.faults = list(faults)
        self._lock = threading.Lock()

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        """Answer with the first fault that fires, else with the application."""
        request = read_environ(environ)
        with self._lock:
            reply = first_reply([fault.before for fault in self.faults], request)
        if isinstance(reply, Drop):
            return _drop(environ, start_response)

        response = self._call_app(environ) if reply is None else render_error(reply)
        with self._lock:
            for fault in self.faults:
                fault.after(request, response)
        return _send(response, start_response)

    def _call_app(self, environ: WSGIEnvironment) -> Response:
        """Run the wrapped application and collect its whole answer."""
        captured: dict[str, Any] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], *_: Any
        ) -> Callable[[bytes], object]:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        chunks = self.app(environ, start_response)
        body = b"".join(chunks)
        status = int(captured["status"].split(" ", 1)[0])
        return Response(status, dict(captured["headers"]), body)


def _send(response: Response, start_response: StartResponse) -> Iterable[bytes]:
    """Send a collected response through WSGI."""
    phrase = status_phrase(response.status)
    headers = [
        (name, value)
        for name, value in response.headers.items()
        if name.lower() != "content-length"
    ]
    start_response(f"{response.status} {phrase}", headers)
    return [response.body]


def _drop(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
    """Shut the client socket down, so that the client gets no answer.

    wsgiref then fails to write and quietly gives up on the connection.
    """
    sock = environ.get(SOCKET_KEY)
    if sock is None:
        raise RuntimeError("Dropping a connection needs ScimServer's handler")
    start_response("500 Dropped", [])
    sock.shutdown(socket.SHUT_RDWR)
    return [b""]


# -- Seeding over HTTP ---------------------------------------------------------


def user_resource(
    user_name: str,
    given: str,
    family: str,
    emails: Sequence[tuple[str, bool | None]] = (),
    active: bool = True,
    roles: Sequence[dict[str, str]] = (),
) -> dict[str, Any]:
    """Build the SCIM JSON of a user; a None primary flag is left out."""
    resource: dict[str, Any] = {
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "name": {"givenName": given, "familyName": family},
        "displayName": f"{given} {family}",
        "active": active,
    }
    if emails:
        resource["emails"] = [_email(value, primary) for value, primary in emails]
    if roles:
        resource["roles"] = [dict(role) for role in roles]
    return resource


def _email(value: str, primary: bool | None) -> dict[str, Any]:
    """Build one email entry; a None primary flag is left out."""
    entry: dict[str, Any] = {"value": value}
    if primary is not None:
        entry["primary"] = primary
    return entry


def group_resource(display_name: str, member_ids: Iterable[str] = ()) -> dict[str, Any]:
    """Build the SCIM JSON of a group of users."""
    resource: dict[str, Any] = {"schemas": [GROUP_SCHEMA], "displayName": display_name}
    members = [{"value": member_id, "type": "User"} for member_id in member_ids]
    if members:
        resource["members"] = members
    return resource


def create_user(
    client: httpx.Client,
    user_name: str,
    given: str,
    family: str,
    emails: Sequence[tuple[str, bool | None]] = (),
    active: bool = True,
    roles: Sequence[dict[str, str]] = (),
) -> dict[str, Any]:
    """Create a user with ``POST /Users`` and return it as the server stored it.

    ``client`` is one from ``ScimServer.client()``.
    """
    payload = user_resource(user_name, given, family, emails, active, roles)
    return _created(client.post("/Users", json=payload))


def create_group(
    client: httpx.Client, display_name: str, member_ids: Iterable[str] = ()
) -> dict[str, Any]:
    """Create a group with ``POST /Groups`` and return it as the server stored it."""
    return _created(
        client.post("/Groups", json=group_resource(display_name, member_ids))
    )


def _created(response: httpx.Response) -> dict[str, Any]:
    """Return the resource of a 201 answer, or fail with the server's words."""
    if response.status_code != HTTPStatus.CREATED:
        raise SeedError(
            f"{response.request.url}: {response.status_code} {response.text}"
        )
    resource: dict[str, Any] = response.json()
    return resource


class SeedError(RuntimeError):
    """The server refused a resource the seeding helpers sent."""


# -- A deterministic directory -------------------------------------------------

FIRST_NAMES = (
    "Ada", "Bruno", "Chloé", "Dmitri", "Elena", "Farid", "Grace", "Hiro",
    "Ines", "José", "Kwame", "Lena", "Mateo", "Nadia", "Oscar", "Priya",
    "Quinn", "Rosa", "Sven", "Tomás", "Uma", "Viktor", "Wen", "Ximena",
    "Yusuf", "Zoë", "Åsa", "Björn", "Siobhán", "Noah", "Maya", "Liam",
)  # fmt: skip
FAMILY_NAMES = (
    "Anderson", "Brown", "García", "Nguyễn", "O'Brien", "Müller", "Ångström",
    "Kowalski", "Dubois", "Rossi", "Tanaka", "Okafor", "Silva", "Novak",
    "Haddad", "Ivanova", "Jensen", "Kim", "Lopez", "Mensah", "Patel", "Quispe",
    "Schmidt", "Svensson", "Walsh", "Yilmaz", "Zhang", "de la Cruz", "Fischer",
    "Costa", "Ahmed", "Larsen",
)  # fmt: skip
ROLES = (
    ("admin", "Workspace Admin"),
    ("owner", "Workspace Owner"),
    ("billing", "Billing Manager"),
    ("support", "Tier2 Support"),
    ("auditor", "Security Auditor"),
    ("guest", "Guest"),
)
GROUP_NAMES = (
    "Engineering", "Sales", "Marketing", "Finance", "Customer Success",
    "Security", "Design", "Legal", "People Ops", "Data Platform", "Mobile",
    "Infrastructure", "Quality", "Product", "Partnerships", "Research",
    "IT Helpdesk", "Leadership", "Interns", "Contractors",
)  # fmt: skip


@dataclass
class Directory:
    """What ``seed_directory`` created, as the server stored it (with ids).

    ``users`` and ``groups`` are in creation order. The last group is empty.
    """

    users: list[dict[str, Any]]
    groups: list[dict[str, Any]]
    seed: int
    _by_name: dict[str, dict[str, Any]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name = {user["userName"]: user for user in self.users}
        self._by_name.update({group["displayName"]: group for group in self.groups})

    def user(self, user_name: str) -> dict[str, Any]:
        """Return a user by its userName."""
        return self._by_name[user_name]

    def group(self, display_name: str) -> dict[str, Any]:
        """Return a group by its displayName."""
        return self._by_name[display_name]

    def members_of(self, display_name: str) -> set[str]:
        """Return the ids of the members of a group."""
        members = self.group(display_name).get("members", [])
        return {member["value"] for member in members}

    def holders_of(self, role: str) -> set[str]:
        """Return the ids of the users that have a role value."""
        return {
            user["id"]
            for user in self.users
            if any(entry["value"] == role for entry in user.get("roles", []))
        }

    @property
    def roles(self) -> dict[str, str]:
        """Map each role value held by someone to its display name."""
        return {
            entry["value"]: entry.get("display", "")
            for user in self.users
            for entry in user.get("roles", [])
        }

    @property
    def inactive_ids(self) -> set[str]:
        """Return the ids of the inactive users."""
        return {user["id"] for user in self.users if user.get("active") is False}


class SeededServer(NamedTuple):
    """A running server and the directory seeded into it."""

    server: ScimServer
    directory: Directory


def seed_directory(
    server: ScimServer, users: int = 250, groups: int = 20, seed: int = 7
) -> Directory:
    """Fill a server with a deterministic directory, through ``POST /Bulk``.

    The same seed gives the same names, emails, activity, roles and
    memberships (ids are the server's, and differ from run to run): about
    10% inactive users; 15% whose primary email is not the first one; 10%
    whose email has no primary flag; a third with one to three roles; groups
    of 1 to 40 overlapping members, the first with 40 and the last empty.
    """
    rng = random.Random(seed)
    with server.client() as client:
        user_ids = _bulk_create(client, "/Users", plan_users(rng, users))
        group_plan = plan_groups(rng, groups, user_ids)
        group_ids = _bulk_create(client, "/Groups", group_plan)
        stored_users = _fetch_all(client, "/Users")
        stored_groups = _fetch_all(client, "/Groups")

    return Directory(
        users=[stored_users[user_id] for user_id in user_ids],
        groups=[stored_groups[group_id] for group_id in group_ids],
        seed=seed,
    )


def plan_users(rng: random.Random, count: int) -> list[dict[str, Any]]:
    """Draw the SCIM JSON of ``count`` users."""
    traits = _draw_traits(rng, count)
    taken: set[str] = set()
    return [_plan_user(rng, index, traits, taken) for index in range(count)]


@dataclass(frozen=True)
class _Traits:
    """Which users (by index) get each special trait."""

    not_first: set[int]
    unflagged: set[int]
    inactive: set[int]
    role_holders: set[int]


def _draw_traits(rng: random.Random, count: int) -> _Traits:
    """Draw, once for the directory, which users get each special trait."""
    order = list(range(count))
    rng.shuffle(order)
    emails_cut, unflagged_cut = _share(count, 0.15), _share(count, 0.25)
    return _Traits(
        not_first=set(order[:emails_cut]),
        unflagged=set(order[emails_cut:unflagged_cut]),
        inactive=set(rng.sample(range(count), _share(count, 0.10))),
        role_holders=set(rng.sample(range(count), _share(count, 1 / 3))),
    )


def _plan_user(
    rng: random.Random, index: int, traits: _Traits, taken: set[str]
) -> dict[str, Any]:
    """Draw the SCIM JSON of one user, with a userName not yet taken."""
    given, family = rng.choice(FIRST_NAMES), rng.choice(FAMILY_NAMES)
    local = _unique(f"{_slug(given)}.{_slug(family)}", taken)
    work, home = f"{local}@example.com", f"{local}@mail.example.org"
    emails: list[tuple[str, bool | None]] = [(work, True)]
    if index in traits.not_first:
        emails = [(home, False), (work, True)]
    elif index in traits.unflagged:
        emails = [(work, None)]

    roles = _draw_roles(rng) if index in traits.role_holders else []
    active = index not in traits.inactive
    return user_resource(work, given, family, emails, active=active, roles=roles)


def plan_groups(
    rng: random.Random, count: int, user_ids: Sequence[str]
) -> list[dict[str, Any]]:
    """Draw the SCIM JSON of ``count`` groups over the given user ids."""
    biggest = min(40, len(user_ids))
    planned = []
    for index in range(count):
        name = GROUP_NAMES[index % len(GROUP_NAMES)]
        if index >= len(GROUP_NAMES):
            name = f"{name} {index // len(GROUP_NAMES) + 1}"
        size = biggest if index == 0 else rng.randint(min(1, biggest), biggest)
        if index == count - 1 and count > 1:
            size = 0
        planned.append(group_resource(name, rng.sample(list(user_ids), size)))
    return planned


def _draw_roles(rng: random.Random) -> list[dict[str, str]]:
    """Draw one to three distinct roles."""
    picked = rng.sample(ROLES, rng.randint(1, 3))
    return [{"value": value, "display": display} for value, display in picked]


def _share(count: int, fraction: float) -> int:
    """Return a share of a count, at least one when the count is not zero."""
    return max(1, round(count * fraction)) if count else 0


def _slug(name: str) -> str:
    """Fold a name to lower-case ASCII letters, as it appears in an address."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore")
    return "".join(c for c in ascii_name.decode().lower() if c.isalnum())


def _unique(name: str, taken: set[str]) -> str:
    """Return ``name``, or ``name`` with the first free number appended."""
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name}{number}", number + 1
    taken.add(candidate)
    return candidate


def _bulk_create(
    client: httpx.Client, endpoint: str, resources: Sequence[dict[str, Any]]
) -> list[str]:
    """Create resources with ``POST /Bulk`` and return their ids, in order.

    Chunks of 100 stay far below the default limits (1000 operations, 1 MiB).
    """
    ids: list[str] = []
    for start in range(0, len(resources), 100):
        chunk = resources[start : start + 100]
        operations = [
            {"method": "POST", "path": endpoint, "bulkId": f"b{n}", "data": data}
            for n, data in enumerate(chunk)
        ]
        payload = {"schemas": [BULK_REQUEST], "Operations": operations}
        response = client.post("/Bulk", json=payload)
        ids.extend(_bulk_ids(response, len(chunk)))
    return ids


def _bulk_ids(response: httpx.Response, expected: int) -> list[str]:
    """Read the ids of the created resources from a BulkResponse."""
    if response.status_code != HTTPStatus.OK:
        raise SeedError(f"POST /Bulk: {response.status_code} {response.text}")
    by_bulk_id = {}
    for result in response.json()["Operations"]:
        if str(result.get("status")) != "201":
            raise SeedError(f"POST /Bulk operation failed: {result}")
        by_bulk_id[result["bulkId"]] = result["location"].rstrip("/").rsplit("/", 1)[1]
    return [by_bulk_id[f"b{n}"] for n in range(expected)]


def _fetch_all(client: httpx.Client, endpoint: str) -> dict[str, dict[str, Any]]:
    """List every resource of an endpoint, page by page, keyed by id."""
    found: dict[str, dict[str, Any]] = {}
    for page in _pages(client, endpoint):
        found.update({resource["id"]: resource for resource in page})
    return found


def _pages(client: httpx.Client, endpoint: str) -> Iterator[list[dict[str, Any]]]:
    """Yield the pages of a list, advancing by the number received."""
    start = 1
    while True:
        response = client.get(endpoint, params={"startIndex": start, "count": 1000})
        response.raise_for_status()
        body = response.json()
        page = body.get("Resources", [])
        if not page:
            return
        yield page
        start += len(page)
        if start > body["totalResults"]:
            return
