"""The demo: a generated directory, served by a real SCIM server in process.

``baton-scim demo`` needs no account anywhere. It draws a company directory
from a seed (people with accented names, work and private addresses, some
of them deactivated, a few roles, departments and overlapping teams),
serves it with scim2-server on 127.0.0.1 behind a random bearer token,
fills it through the server's own SCIM API (``POST /Bulk``) and then runs
the ordinary sync against it. Nothing here prints: the CLI does.

The provider description of the demo ships as core package data, so the
demo works with the core package alone, without any provider plugin.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import sys
import unicodedata
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
from pydantic import SecretStr

from .errors import ConfigError, ProtocolError
from .logs import redactor
from .plugins import Registry
from .provider import Credentials, Provider, read_package_description
from .records import snake_case
from .serving import Served
from .settings import Settings

logger = logging.getLogger(__name__)

PROVIDER_NAME = "demo"
DESCRIPTION_RESOURCE = "data/demo.yaml"
DEFAULT_USERS = 500
DEFAULT_GROUPS = 40
DEFAULT_SEED = 1
# scim2-server builds every answer through pydantic (about a millisecond per
# user, more for big groups): beyond these sizes the demo would mostly wait.
MAX_USERS = 5_000
MAX_GROUPS = 500
TEAM_MAX_EXTRA = 200

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
# scim2-server announces 1000 operations and 1 MiB per bulk request; half of
# each keeps a request well inside both whatever the names weigh.
BULK_MAX_OPERATIONS = 500
BULK_MAX_BYTES = 512 * 1024
DOMAIN = "northwind.example"

# -- What the directory is drawn from ------------------------------------------

GIVEN_NAMES = (
    "Aaliyah", "Aoife", "Björn", "Camila", "Chidi", "Dário", "Élodie", "Emeka",
    "Farah", "Gabriel", "Hannah", "Ingrid", "Jürgen", "Kenji", "Łukasz", "Leila",
    "Malgorzata", "Mateus", "Mei", "Noor", "Olumide", "Pooja", "Rafael", "Renée",
    "Sebastián", "Siddharth", "Søren", "Tamar", "Thandiwe", "Yūki", "Zoë", "Wei",
    "Amara", "Ben", "Clara", "David", "Eva", "Finn", "Grace", "Hugo", "Isla",
    "Jonas", "Katarzyna", "Luca", "Maya", "Nikolai", "Oscar", "Priya", "Ruth",
    "Samuel", "Tomás", "Valentina", "Xavier", "Yasmin",
)  # fmt: skip
FAMILY_NAMES = (
    "Abara", "Åberg", "Bianchi", "Çelik", "Dvořák", "Eriksen", "Fernández",
    "Goldberg", "Haddad", "Ivanović", "Jovanović", "Kaur", "Kowalczyk",
    "Lindqvist", "Mahlangu", "Müller", "Nakamura", "Nguyễn", "O'Connor",
    "Øvergaard", "Papadopoulos", "Quiroga", "Rossi", "Schäfer", "Takahashi",
    "Uçar", "van der Berg", "Walsh", "da Silva", "Yamamoto", "Zieliński",
    "Adeyemi", "Brown", "Chen", "Dubois", "Evans", "Fischer", "García", "Hughes",
    "Ito", "Johansson", "Kim", "Lopez", "Mensah", "Novak", "Okafor", "Patel",
    "Reyes", "Smith", "Tanaka", "Wright",
)  # fmt: skip
TITLES = (
    "Engineer", "Senior Engineer", "Staff Engineer", "Account Executive",
    "Designer", "Analyst", "Manager", "Director", "Recruiter", "Counsel",
    "Support Specialist", "Accountant", "Data Scientist", "Product Manager",
)  # fmt: skip
DEPARTMENTS = (
    "Engineering", "Sales", "Customer Support", "Marketing", "Finance",
    "People", "Design", "Data", "Security", "Legal", "IT", "Operations",
)  # fmt: skip
# Departments weigh differently, as in a real company.
DEPARTMENT_WEIGHTS = (30, 16, 12, 8, 5, 5, 5, 6, 4, 3, 3, 3)
TEAMS = (
    "Platform Guild", "On-call Rotation", "Office: Berlin", "Office: São Paulo",
    "Office: Kraków", "Project Aurora", "Project Nordlicht", "Release Managers",
    "Incident Response", "Mentors", "Accessibility Champions",
    "Open Source Office", "Budget Owners", "Travel Approvers", "Contractors",
    "Interns", "Hackathon Crew", "Café Committee", "Board Observers",
    "Architecture Review", "Brand Council", "Data Stewards", "Deal Desk",
    "Vendor Risk", "Localization", "Mobile Squad", "Payments Squad",
    "Growth Squad",
)  # fmt: skip
# Role value, display name, who tends to hold it (a department or anyone)
# and how likely.
ROLES = (
    ("admin", "Workspace Admin", None, 0.04),
    ("billing", "Billing Manager", "Finance", 0.5),
    ("auditor", "Security Auditor", "Security", 0.6),
    ("developer", "Developer", "Engineering", 0.85),
    ("analyst", "Data Analyst", "Data", 0.7),
    ("support", "Support Agent", "Customer Support", 0.9),
)
OWNER_ROLE = ("owner", "Workspace Owner")
INACTIVE_SHARE = 0.08
PRIVATE_EMAIL_SHARE = 0.2
# Letters that Unicode decomposition does not fold to ASCII.
_FOLD = str.maketrans({"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "ß": "ss", "æ": "ae"})


# -- The plan: what the directory will hold ------------------------------------


@dataclass(frozen=True)
class PlannedGroup:
    """A group to create: its name and its members, as indexes of the users."""

    display_name: str
    members: tuple[int, ...]


@dataclass(frozen=True)
class DemoPlan:
    """A whole directory drawn from a seed: the SCIM JSON of every user."""

    seed: int
    users: list[dict[str, Any]]
    groups: list[PlannedGroup]

    @property
    def counts(self) -> DemoCounts:
        """What a sync of this directory must find."""
        roles = {
            snake_case(role.get("display") or role["value"])
            for user in self.users
            for role in user.get("roles", [])
        }
        return DemoCounts(
            users=len(self.users),
            inactive=sum(1 for user in self.users if not user["active"]),
            groups=len(self.groups),
            memberships=sum(len(group.members) for group in self.groups),
            roles=len(roles),
            role_assignments=sum(len(user.get("roles", [])) for user in self.users),
        )


@dataclass(frozen=True)
class DemoCounts:
    """How many of each thing the demo directory holds."""

    users: int
    inactive: int
    groups: int
    memberships: int
    roles: int
    role_assignments: int


def plan_directory(
    users: int = DEFAULT_USERS, groups: int = DEFAULT_GROUPS, seed: int = DEFAULT_SEED
) -> DemoPlan:
    """Draw a directory; the same arguments always draw the same one."""
    if not 1 <= users <= MAX_USERS or not 0 <= groups <= MAX_GROUPS:
        raise ConfigError(
            f"a demo directory holds 1 to {MAX_USERS} users and 0 to "
            f"{MAX_GROUPS} groups, not {users} and {groups}",
            hint="pick --users and --groups within those bounds",
        )

    rng = random.Random(seed)
    departments = rng.choices(range(len(DEPARTMENTS)), DEPARTMENT_WEIGHTS, k=users)
    taken: set[str] = set()
    planned_users = [
        _plan_user(rng, index, DEPARTMENTS[dept], taken)
        for index, dept in enumerate(departments)
    ]
    planned_groups = _plan_groups(rng, groups, departments)
    return DemoPlan(seed, planned_users, planned_groups)


def _plan_user(
    rng: random.Random, index: int, department: str, taken: set[str]
) -> dict[str, Any]:
    given, family = rng.choice(GIVEN_NAMES), rng.choice(FAMILY_NAMES)
    local = _unique(f"{_ascii(given)}.{_ascii(family)}", taken)
    user: dict[str, Any] = {
        "schemas": [USER_SCHEMA],
        "externalId": f"E{index + 1:05d}",
        "userName": f"{local}@{DOMAIN}",
        "name": {"givenName": given, "familyName": family},
        "displayName": f"{given} {family}",
        "title": rng.choice(TITLES),
        "active": rng.random() >= INACTIVE_SHARE,
        "emails": _emails(rng, local),
    }
    roles = _draw_roles(rng, department, owner=index == 0)
    if roles:
        user["roles"] = roles
    return user


def _emails(rng: random.Random, local: str) -> list[dict[str, Any]]:
    work = {"value": f"{local}@{DOMAIN}", "type": "work", "primary": True}
    if rng.random() >= PRIVATE_EMAIL_SHARE:
        return [work]
    # The private address comes first, so that only the primary flag tells
    # which one is the work address.
    home = {"value": f"{local}@mail.example.org", "type": "home", "primary": False}
    return [home, work]


def _draw_roles(
    rng: random.Random, department: str, *, owner: bool
) -> list[dict[str, str]]:
    held = [{"value": OWNER_ROLE[0], "display": OWNER_ROLE[1]}] if owner else []
    for value, display, home, chance in ROLES:
        if home not in (None, department):
            chance = 0.02
        if rng.random() < chance:
            held.append({"value": value, "display": display})
    return held


def _plan_groups(
    rng: random.Random, count: int, departments: Sequence[int]
) -> list[PlannedGroup]:
    planned = []
    for index in range(count):
        if index < len(DEPARTMENTS):
            members = [user for user, dept in enumerate(departments) if dept == index]
            planned.append(PlannedGroup(DEPARTMENTS[index], tuple(members)))
            continue
        planned.append(_plan_team(rng, index - len(DEPARTMENTS), len(departments)))
    return planned


def _plan_team(rng: random.Random, index: int, users: int) -> PlannedGroup:
    """A team across departments; one of them (Board Observers) stays empty."""
    name = TEAMS[index % len(TEAMS)]
    if index >= len(TEAMS):
        name = f"{name} {index // len(TEAMS) + 1}"
    if name == "Board Observers":
        return PlannedGroup(name, ())
    smallest = min(2, users)
    largest = min(users, 2 + min(users // 6, TEAM_MAX_EXTRA))
    size = rng.randint(smallest, max(smallest, largest))
    return PlannedGroup(name, tuple(sorted(rng.sample(range(users), size))))


def _ascii(name: str) -> str:
    """A name as it appears in an e-mail address: lower-case ASCII letters."""
    folded = unicodedata.normalize("NFKD", name.translate(_FOLD))
    letters = folded.encode("ascii", "ignore").decode().lower()
    return "".join(char for char in letters if char.isalnum())


def _unique(name: str, taken: set[str]) -> str:
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name}{number}", number + 1
    taken.add(candidate)
    return candidate


# -- The server ----------------------------------------------------------------


def new_token() -> SecretStr:
    """A fresh random bearer token for one demo server; never shown."""
    token = secrets.token_urlsafe(32)
    redactor.add(token)
    return SecretStr(token)


class DemoServer(Served):
    """scim2-server with in-memory storage on 127.0.0.1, as a context manager.

    Resource IDs come from the seed, so that the same seed gives the same
    IDs (and the commands the demo suggests stay valid from run to run).
    """

    def __init__(self, seed: int = DEFAULT_SEED) -> None:
        self.token = new_token()
        self.application = _application(self.token, seed)

    def listen(self) -> tuple[WSGIServer, str]:
        """scim2-server on a free port of 127.0.0.1."""
        server = make_server(
            "127.0.0.1",
            0,
            self.application,
            server_class=_ThreadingServer,
            handler_class=_QuietHandler,
        )
        logger.debug("demo SCIM server listening on port %d", server.server_port)
        return server, "baton-scim-demo-server"

    @property
    def url(self) -> str:
        """The base URL of the SCIM endpoints."""
        return f"http://127.0.0.1:{self.port}/v2"

    def client(self) -> httpx.Client:
        """An httpx client on ``url`` that sends the bearer token."""
        bearer = f"Bearer {self.token.get_secret_value()}"
        return httpx.Client(
            base_url=self.url, headers={"Authorization": bearer}, timeout=60.0
        )


def _application(token: SecretStr, seed: int) -> Any:
    """The scim2-server WSGI application that accepts one bearer token."""
    from scim2_models import Pagination, ScimProvider
    from scim2_server.testserver.application import (
        BEARER_TOKEN_SCHEME,
        BearerTokenApplication,
    )
    from scim2_server.utils import (
        load_default_resource_types,
        load_default_schemas,
        load_default_service_provider_config,
    )

    config = load_default_service_provider_config()
    # Listing the scheme makes 401 answers carry WWW-Authenticate; the
    # RFC 9865 pagination block shows what `check` reports about paging.
    config.authentication_schemes = [BEARER_TOKEN_SCHEME]
    config.pagination = Pagination(
        index=True, cursor=False, default_page_size=100, max_page_size=1000
    )
    provider = ScimProvider.from_discovery(
        load_default_schemas().values(),
        load_default_resource_types().values(),
        config=config,
    )
    storage = _seeded_storage(seed)
    return BearerTokenApplication(
        storage, provider, bearer_tokens=[token.get_secret_value()]
    )


def _seeded_storage(seed: int) -> Any:
    from scim2_server.memory import InMemoryStorage

    ids = random.Random(f"baton-scim-demo-ids-{seed}")

    class SeededStorage(InMemoryStorage):
        """In-memory storage whose new IDs follow a seeded random sequence."""

        def generate_id(self, resource_type: Any, resource: Any) -> str:
            return uuid.UUID(int=ids.getrandbits(128), version=4).hex

    return SeededStorage()


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    """A wsgiref server that serves each connection in its own thread."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up mid-answer is no news; anything else is a bug
        # worth a debug line, never a traceback over the demo's output.
        logger.debug("demo server: %s", sys.exc_info()[1])


class _QuietHandler(WSGIRequestHandler):
    """Keeps wsgiref's access log off the terminal: the sync logs requests."""

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("demo server: " + format, *args)


# -- Filling the server over SCIM ----------------------------------------------


@dataclass
class DemoDirectory:
    """What the server holds once filled: the plan and the IDs it gave."""

    plan: DemoPlan
    user_ids: list[str] = field(default_factory=list)
    group_ids: list[str] = field(default_factory=list)

    @property
    def counts(self) -> DemoCounts:
        return self.plan.counts

    def featured_user(self) -> tuple[str, str]:
        """(ID, display name) of an active user with much access, to inspect."""
        best = max(
            range(len(self.plan.users)),
            key=lambda index: (self._access(index), -index),
        )
        return self.user_ids[best], self.plan.users[best]["displayName"]

    def _access(self, index: int) -> int:
        user = self.plan.users[index]
        if not user["active"]:
            return -1
        groups = sum(1 for group in self.plan.groups if index in group.members)
        return groups + len(user.get("roles", []))


def fill(server: DemoServer, plan: DemoPlan) -> DemoDirectory:
    """Create the plan's users, then its groups, through ``POST /Bulk``."""
    directory = DemoDirectory(plan)
    with server.client() as client:
        directory.user_ids = _create(client, "/Users", plan.users)
        groups = [_group_json(group, plan, directory.user_ids) for group in plan.groups]
        directory.group_ids = _create(client, "/Groups", groups)
    logger.debug(
        "demo directory: %d users, %d groups",
        len(directory.user_ids),
        len(directory.group_ids),
    )
    return directory


def _group_json(
    group: PlannedGroup, plan: DemoPlan, user_ids: Sequence[str]
) -> dict[str, Any]:
    members = [
        {
            "value": user_ids[index],
            "display": plan.users[index]["displayName"],
            "type": "User",
        }
        for index in group.members
    ]
    resource: dict[str, Any] = {
        "schemas": [GROUP_SCHEMA],
        "displayName": group.display_name,
    }
    if members:
        resource["members"] = members
    return resource


def _create(
    client: httpx.Client, endpoint: str, resources: Sequence[dict[str, Any]]
) -> list[str]:
    """Create resources in bulk and return their IDs, in order (RFC 7644 §3.7)."""
    ids: list[str] = []
    operations = [
        {"method": "POST", "path": endpoint, "bulkId": f"r{n}", "data": data}
        for n, data in enumerate(resources)
    ]
    for batch in _batches(operations):
        payload = {"schemas": [BULK_REQUEST], "Operations": batch}
        ids.extend(_created_ids(client.post("/Bulk", json=payload), batch))
    return ids


def _batches(operations: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    size = 0
    for operation in operations:
        weight = len(json.dumps(operation).encode())
        if batch and (
            len(batch) >= BULK_MAX_OPERATIONS or size + weight > BULK_MAX_BYTES
        ):
            yield batch
            batch, size = [], 0
        batch.append(operation)
        size += weight
    if batch:
        yield batch


def _created_ids(
    response: httpx.Response, batch: Sequence[dict[str, Any]]
) -> list[str]:
    """The IDs in a BulkResponse, in the order of the batch's operations."""
    if response.status_code != 200:
        raise ProtocolError(
            f"POST /Bulk: the demo server answered {response.status_code}",
            hint="this is a bug in the demo; run with --log-level debug and report it",
        )
    by_bulk_id = {}
    for result in response.json().get("Operations", []):
        if str(result.get("status")) != "201":
            raise ProtocolError(
                f"POST /Bulk: the demo server refused {result.get('bulkId')}: "
                f"{result.get('response')}",
                hint="this is a bug in the demo; report it",
            )
        by_bulk_id[result["bulkId"]] = result["location"].rstrip("/").rsplit("/", 1)[1]
    return [by_bulk_id[operation["bulkId"]] for operation in batch]


# -- The sync's view of the demo -------------------------------------------------


def demo_provider() -> Provider:
    """The demo's provider, described by the core's own package data."""
    return Provider(
        name=PROVIDER_NAME,
        description="The generated directory of 'baton-scim demo'",
        load_description=read_package_description("baton_scim", DESCRIPTION_RESOURCE),
        source=f"baton_scim:{DESCRIPTION_RESOURCE}",
        package="baton-scim",
    )


def demo_registry() -> Registry:
    """A registry holding only the demo provider: no plugin is needed."""
    return Registry({PROVIDER_NAME: demo_provider()})


def writable_target(path: Path) -> Path:
    """Refuse, before any work, an output file whose directory is missing."""
    folder = path.expanduser().parent
    if not folder.is_dir():
        raise ConfigError(
            f"{path}: the directory {folder} does not exist",
            hint="create it, or pass another -f",
        )
    return path


def demo_settings(base: Settings, server: DemoServer) -> Settings:
    """The run settings of a sync of the demo server.

    The command line's HTTP and paging flags still apply; the provider, the
    endpoint and the credentials are the demo's own.
    """
    return replace(
        base,
        service_provider=PROVIDER_NAME,
        scim_config=None,
        credentials=Credentials(token=server.token),
        api_endpoint=server.url,
        auth_url=None,
        provisioning=False,
        ca_bundle=None,
    )
