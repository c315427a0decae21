"""Grant and revoke against a real scim2-server: exactly one value changes.

Each test syncs a small directory into a c1z file, changes access with the
Baton one-shot flags, then reads the group or user back from the server.
``World`` is shared with the other test_provisioning_* modules.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import httpx
import pytest
import yaml

from tests.support.cli import Result, run_cli
from tests.support.fake_scim import RecordedRequest
from tests.support.scim_server import (
    RequestLog,
    ScimServer,
    create_group,
    create_user,
)

DESCRIPTION = Path(__file__).parent / "data" / "scim2-server.yaml"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ALICE_ROLES = [
    {"value": "admin", "display": "Workspace Admin"},
    {"value": "billing", "display": "Billing Manager"},
    {"value": "support", "display": "Tier2 Support"},
]

AppWrapper = Callable[[WSGIApplication], WSGIApplication]


# -- The world every provisioning test starts from ------------------------------


@dataclass
class World:
    """A seeded scim2-server, its description, and a c1z file synced from it.

    Users alice (three roles), bob (one role), carol and dave (none); groups
    Engineering (alice, bob, carol) and Sales (dave). ``log`` records the
    requests baton-scim sends, with their Content-Type and If-Match.
    """

    server: ScimServer
    log: RequestLog
    tmp: Path
    users: dict[str, str] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)
    sent: list[RecordedRequest] = field(default_factory=list)
    _http: httpx.Client | None = None

    @property
    def http(self) -> httpx.Client:
        """One client for the test's own reads and writes (not logged)."""
        if self._http is None:
            self._http = self.server.client(verify=False)  # plain HTTP: no CA load
        return self._http

    @property
    def config(self) -> Path:
        return self.tmp / "scim.yaml"

    @property
    def file(self) -> Path:
        return self.tmp / "sync.c1z"

    def seed(self) -> None:
        users = {
            "alice": ALICE_ROLES,
            "bob": [{"value": "guest", "display": "Guest"}],
            "carol": [],
            "dave": [],
        }
        for name, roles in users.items():
            email = f"{name}@example.com"
            user = create_user(self.http, email, name, "Example", roles=roles)
            self.users[name] = user["id"]
        groups = {"Engineering": ("alice", "bob", "carol"), "Sales": ("dave",)}
        for name, members in groups.items():
            ids = [self.users[member] for member in members]
            self.groups[name] = create_group(self.http, name, ids)["id"]

    def describe(
        self, edit: Callable[[dict[str, Any]], None] | None = None, name: str = ""
    ) -> Path:
        """Write the scim2-server description, changed by ``edit``.

        With a ``name``, it goes to a file of its own and ``config`` stays.
        """
        data = yaml.safe_load(DESCRIPTION.read_text())
        data["apiEndpoint"] = self.server.url + "/"
        if edit is not None:
            edit(data)
        path = self.tmp / name if name else self.config
        path.write_text(yaml.safe_dump(data))
        return path

    def cli(
        self,
        *args: str,
        provisioning: bool = True,
        env: dict[str, str] | None = None,
        config: Path | None = None,
        token: str | None = None,
    ) -> Result:
        """Run baton-scim on this world; ``sent`` keeps what reached the server."""
        base = [
            "--scim-config", str(config or self.config),
            "--token", token or self.server.token,
            "-f", str(self.file),
        ]  # fmt: skip
        self.log.clear()
        result = run_cli(*base, *(["-p"] if provisioning else []), *args, env=env)
        self.sent = list(self.log.entries)
        return result

    def sync(self) -> bytes:
        result = self.cli(provisioning=False)
        assert result.exit_code == 0, result.output
        return self.file.read_bytes()

    def grant(self, entitlement: str, user: str, **options: Any) -> Result:
        return self.cli(
            "--grant-entitlement", entitlement,
            "--grant-principal", user,
            "--grant-principal-type", "user",
            **options,
        )  # fmt: skip

    def revoke(self, grant_id: str, **options: Any) -> Result:
        return self.cli("--revoke-grant", grant_id, **options)

    def group_entitlement(self, group: str) -> str:
        return f"group:{self.groups[group]}:member"

    def membership(self, group: str, user: str) -> str:
        return f"{self.group_entitlement(group)}:user:{self.users[user]}"

    def members(self, group: str) -> list[dict[str, Any]]:
        body = self.http.get(f"/Groups/{self.groups[group]}").json()
        return body.get("members", [])

    def member_names(self, group: str) -> set[str]:
        by_id = {uid: name for name, uid in self.users.items()}
        return {by_id[m["value"]] for m in self.members(group)}

    def roles(self, user: str) -> list[dict[str, Any]]:
        body = self.http.get(f"/Users/{self.users[user]}").json()
        return body.get("roles", [])

    def patch(self, path: str, *operations: dict[str, Any]) -> None:
        """Change the service as another client would."""
        body = {"schemas": [PATCH_OP], "Operations": list(operations)}
        response = self.http.patch(path, json=body)
        assert response.status_code in (200, 204), response.text

    def writes(self) -> list[RecordedRequest]:
        """The writes the last command sent."""
        return [e for e in self.sent if e.method in ("PATCH", "PUT", "POST", "DELETE")]

    def methods(self) -> list[str]:
        """The methods of the requests the last command sent, in order."""
        return [e.method for e in self.sent]

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
        self.server.stop()


def open_world(
    tmp: Path, wrappers: Iterable[AppWrapper] = ()
) -> tuple[ScimServer, World]:
    """Start a server (behind ``wrappers``, innermost first) and seed it."""
    log = RequestLog(headers=("content-type", "if-match"))

    def wrap(app: WSGIApplication) -> WSGIApplication:
        for wrapper in wrappers:
            app = wrapper(app)
        return log.wrap(app)

    server = ScimServer(f"tok-{secrets.token_hex(8)}", app_wrapper=wrap).start()
    world = World(server, log, tmp)
    world.seed()
    world.describe()
    return world


@pytest.fixture
def make_world(tmp_path: Path):
    """Start worlds behind the given middleware; stop them after the test."""
    worlds: list[World] = []

    def make(*wrappers: AppWrapper) -> World:
        world = open_world(tmp_path, wrappers)
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        world.close()


@pytest.fixture
def world(make_world: Callable[..., World]) -> World:
    return make_world()


def assert_one_line(result: Result, text: str) -> None:
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [text]


# -- Middleware: what other clients and other services do -------------------------


class AnotherAdmin:
    """Another client adds a member between our read and our write.

    It stands in front of the real server and, before a write that carries
    If-Match reaches it, adds the next newcomer to the group through the
    same server. The version our write names is then stale and the server
    answers 412 (RFC 7644 §3.14).
    """

    def __init__(self) -> None:
        self.token = ""
        self.group_id = ""
        self.newcomers: list[str] = []
        self.app: WSGIApplication | None = None

    def wrap(self, app: WSGIApplication) -> WSGIApplication:
        self.app = app
        return self

    def arm(self, token: str, group_id: str, *newcomers: str) -> None:
        """Add one of ``newcomers`` to the group before each If-Match write."""
        self.token, self.group_id = token, group_id
        self.newcomers = list(newcomers)

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        assert self.app is not None
        if environ.get("HTTP_IF_MATCH") and self.newcomers:
            self.add(self.group_id, self.newcomers.pop(0))
        return self.app(environ, start_response)

    def add(self, group_id: str, user_id: str) -> None:
        """Add a member through the server itself, as another client would."""
        transport = httpx.WSGITransport(app=self.app)
        headers = {"Authorization": f"Bearer {self.token}"}
        body = {
            "schemas": [PATCH_OP],
            "Operations": [
                {"op": "add", "path": "members", "value": [{"value": user_id}]}
            ],
        }
        with httpx.Client(
            transport=transport, base_url="http://127.0.0.1/v2", headers=headers
        ) as client:
            response = client.patch(f"/Groups/{group_id}", json=body)
        assert response.status_code == 204, response.text


class DuplicateRefused:
    """The member arrives through another client just before our PATCH,
    which the service then refuses as a duplicate: 409 with scimType
    uniqueness (RFC 7644 §3.12), as some services answer a second add."""

    def __init__(self, admin: AnotherAdmin) -> None:
        self.admin = admin

    def wrap(self, app: WSGIApplication) -> WSGIApplication:
        self.admin.wrap(app)
        return self

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        assert self.admin.app is not None
        if environ["REQUEST_METHOD"] != "PATCH" or not self.admin.newcomers:
            return self.admin.app(environ, start_response)
        self.admin.add(self.admin.group_id, self.admin.newcomers.pop(0))
        body = {"status": "409", "scimType": "uniqueness", "detail": "Already a member"}
        start_response("409 Conflict", [("Content-Type", "application/scim+json")])
        return [json.dumps(body).encode()]


class WithoutVersions:
    """A service that keeps no versions: no ETag, no meta.version.

    RFC 7644 §3.14 makes versions optional (``etag.supported: false``), so
    a list read from such a service cannot be written back safely.
    """

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(
            status: str, headers: list[tuple[str, str]], *_: Any
        ) -> Callable[[bytes], object]:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        body = b"".join(self.app(environ, capture))
        if body:
            body = json.dumps(_without_versions(json.loads(body))).encode()
        headers = [
            (name, value)
            for name, value in captured["headers"]
            if name.lower() not in ("etag", "content-length")
        ]
        start_response(
            captured["status"], [*headers, ("Content-Length", str(len(body)))]
        )
        return [body]


def _without_versions(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _without_versions(v) for k, v in data.items() if k != "version"}
    if isinstance(data, list):
        return [_without_versions(item) for item in data]
    return data


def replace_removal(data: dict[str, Any], **extra: Any) -> None:
    """The guide's example: removeUserFromGroup with op replace."""
    data["provisioning"]["removeUserFromGroup"] = {
        "op": "replace", "path": "members", "valuePath": "value", **extra
    }  # fmt: skip


# -- Group membership ------------------------------------------------------------


def test_grant_adds_the_user_and_every_member_stays(world: World) -> None:
    before = world.sync()

    result = world.grant(world.group_entitlement("Engineering"), world.users["dave"])

    engineering = world.group_entitlement("Engineering")
    assert_one_line(result, f"granted {engineering} to user:{world.users['dave']}")
    assert world.member_names("Engineering") == {"alice", "bob", "carol", "dave"}
    assert world.methods() == ["GET", "PATCH"]
    assert world.file.read_bytes() == before


def test_revoke_removes_only_that_member(world: World) -> None:
    before = world.sync()

    result = world.revoke(world.membership("Engineering", "bob"))

    engineering = world.group_entitlement("Engineering")
    assert_one_line(result, f"revoked {engineering} from user:{world.users['bob']}")
    assert world.member_names("Engineering") == {"alice", "carol"}
    assert world.member_names("Sales") == {"dave"}
    assert world.file.read_bytes() == before


def test_a_granted_membership_is_in_the_next_sync_and_revokes_cleanly(
    world: World,
) -> None:
    world.sync()
    assert (
        world.grant(world.group_entitlement("Sales"), world.users["carol"]).exit_code
        == 0
    )
    assert world.member_names("Sales") == {"dave", "carol"}

    world.sync()
    result = world.revoke(world.membership("Sales", "carol"))

    assert result.exit_code == 0, result.output
    assert world.member_names("Sales") == {"dave"}
    assert world.member_names("Engineering") == {"alice", "bob", "carol"}


def test_granting_an_existing_membership_says_so_and_writes_nothing(
    world: World,
) -> None:
    world.sync()

    result = world.grant(world.group_entitlement("Engineering"), world.users["alice"])

    assert_one_line(
        result,
        f"already granted: user:{world.users['alice']} already has "
        f"{world.group_entitlement('Engineering')}; nothing changed",
    )
    assert world.writes() == []


def test_revoking_a_membership_already_gone_says_so_and_writes_nothing(
    world: World,
) -> None:
    world.sync()
    bob = world.users["bob"]
    world.patch(
        f"/Groups/{world.groups['Engineering']}",
        {"op": "remove", "path": f'members[value eq "{bob}"]'},
    )

    result = world.revoke(world.membership("Engineering", "bob"))

    assert_one_line(
        result,
        f"already revoked: user:{bob} does not have "
        f"{world.group_entitlement('Engineering')}; nothing changed",
    )
    assert world.writes() == []


def test_the_grant_and_revoke_subcommands_take_plain_ids(world: World) -> None:
    world.sync()
    group, dave = world.groups["Engineering"], world.users["dave"]

    granted = world.cli("grant", "--group", group, "--user", dave)
    revoked = world.cli("revoke", "--group", group, "--user", world.users["bob"])

    assert_one_line(granted, f"granted group:{group}:member to user:{dave}")
    assert revoked.exit_code == 0, revoked.output
    assert world.member_names("Engineering") == {"alice", "carol", "dave"}


def test_baton_provisioning_variable_enables_provisioning(world: World) -> None:
    world.sync()

    result = world.cli(
        "--revoke-grant", world.membership("Engineering", "carol"),
        provisioning=False, env={"BATON_PROVISIONING": "true"},
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert world.member_names("Engineering") == {"alice", "bob"}


def test_a_409_for_a_member_added_meanwhile_counts_as_already_granted(
    make_world: Callable[..., World],
) -> None:
    duplicate = DuplicateRefused(AnotherAdmin())
    world = make_world(duplicate.wrap)
    world.sync()
    engineering, dave = world.groups["Engineering"], world.users["dave"]
    duplicate.admin.arm(world.server.token, engineering, dave)

    result = world.grant(world.group_entitlement("Engineering"), dave)

    assert result.stdout.startswith(f"already granted: user:{dave}")
    assert world.methods() == ["GET", "PATCH", "GET"]
    assert world.member_names("Engineering") == {"alice", "bob", "carol", "dave"}


# -- Roles ---------------------------------------------------------------------


def test_revoking_one_of_three_roles_keeps_the_other_two(world: World) -> None:
    before = world.sync()
    alice = world.users["alice"]

    result = world.revoke(f"role:billing_manager:member:user:{alice}")

    assert_one_line(result, f"revoked role:billing_manager:member from user:{alice}")
    assert world.roles("alice") == [ALICE_ROLES[0], ALICE_ROLES[2]]
    assert world.roles("bob") == [{"value": "guest", "display": "Guest"}]
    assert world.file.read_bytes() == before


def test_granting_a_role_sends_its_scim_value_learnt_from_a_holder(
    world: World,
) -> None:
    world.sync()
    dave = world.users["dave"]

    result = world.grant("role:tier_2_support:member", dave)

    assert_one_line(result, f"granted role:tier_2_support:member to user:{dave}")
    assert world.roles("dave") == [{"value": "support", "display": "Tier2 Support"}]
    # dave, then alice (the holder the value is learnt from), then the write.
    assert [(e.method, e.path.rsplit("/", 1)[1]) for e in world.sent] == [
        ("GET", dave),
        ("GET", world.users["alice"]),
        ("PATCH", dave),
    ]


def test_a_granted_role_keeps_its_id_in_the_next_sync(world: World) -> None:
    world.sync()
    dave = world.users["dave"]
    assert world.grant("role:workspace_admin:member", dave).exit_code == 0

    world.sync()
    result = world.revoke(f"role:workspace_admin:member:user:{dave}")

    assert result.exit_code == 0, result.output
    assert world.roles("dave") == []
    assert world.roles("alice") == ALICE_ROLES


def test_granting_a_role_the_user_has_says_so(world: World) -> None:
    world.sync()
    bob = world.users["bob"]

    result = world.grant("role:guest:member", bob)

    assert_one_line(
        result,
        f"already granted: user:{bob} already has role:guest:member; nothing changed",
    )
    assert world.writes() == []


def test_a_role_nobody_holds_any_more_cannot_be_granted(world: World) -> None:
    world.sync()
    world.patch(
        f"/Users/{world.users['bob']}",
        {"op": "remove", "path": 'roles[value eq "guest"]'},
    )

    result = world.grant("role:guest:member", world.users["dave"])

    assert result.exit_code == 1
    assert "cannot tell the SCIM value of role guest ('Guest')" in result.stderr
    assert world.writes() == []


# -- Rewriting a list: If-Match, 412 and lost updates ------------------------------


def test_a_member_added_between_read_and_write_survives_a_replace_revoke(
    make_world: Callable[..., World],
) -> None:
    racer = AnotherAdmin()
    world = make_world(racer.wrap)
    world.describe(replace_removal)
    world.sync()
    racer.arm(world.server.token, world.groups["Engineering"], world.users["dave"])

    result = world.revoke(world.membership("Engineering", "bob"))

    assert result.exit_code == 0, result.output
    assert world.member_names("Engineering") == {"alice", "carol", "dave"}
    assert world.methods() == ["GET", "PATCH", "GET", "PATCH"]
    first, second = world.writes()
    assert first.header("if-match") != second.header("if-match")


def test_a_replace_revoke_gives_up_when_every_write_loses_the_race(
    make_world: Callable[..., World],
) -> None:
    racer = AnotherAdmin()
    world = make_world(racer.wrap)
    world.describe(replace_removal)
    world.sync()
    others = [f"newcomer-{n}" for n in range(5)]
    racer.arm(world.server.token, world.groups["Sales"], *others)

    result = world.revoke(world.membership("Sales", "dave"))

    assert result.exit_code == 1
    assert "412 every time" in result.stderr
    assert world.methods().count("PATCH") == 5
    members = {m["value"] for m in world.members("Sales")}
    assert members == {world.users["dave"], *others}


def test_a_replace_without_a_version_is_refused(
    make_world: Callable[..., World],
) -> None:
    world = make_world(WithoutVersions)
    world.describe(replace_removal)
    world.sync()

    result = world.revoke(world.membership("Engineering", "bob"))

    assert result.exit_code == 1
    assert "came without a version" in result.stderr
    assert "removeUserFromGroup.acceptUnversionedReplace: true" in result.stderr
    assert world.writes() == []
    assert world.member_names("Engineering") == {"alice", "bob", "carol"}


def test_a_replace_without_a_version_runs_when_the_description_accepts_it(
    make_world: Callable[..., World],
) -> None:
    world = make_world(WithoutVersions)
    world.describe(lambda data: replace_removal(data, acceptUnversionedReplace=True))
    world.sync()

    result = world.revoke(world.membership("Engineering", "bob"))

    assert result.exit_code == 0, result.output
    assert world.member_names("Engineering") == {"alice", "carol"}
    assert [w.header("if-match") for w in world.writes()] == [None]
