"""Refusals and failures: one line on stderr, a non-zero exit, nothing changed.

Refusals happen before any request; service errors name the change, the
request and what to do. The c1z file is never touched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.types import WSGIApplication

import pytest

from tests.support.cli import Result
from tests.support.fake_scim import CannedFault, Fault, RecordedRequest, Response
from tests.support.scim_server import FaultMiddleware
from tests.test_provisioning import World, open_world

PRINCIPAL_FLAGS = ("--grant-principal-type", "user")


class Switchboard:
    """A FaultMiddleware whose faults each test sets (none by default)."""

    def __init__(self) -> None:
        self.middleware: FaultMiddleware | None = None

    def wrap(self, app: WSGIApplication) -> WSGIApplication:
        self.middleware = FaultMiddleware(app, [])
        return self.middleware

    def set(self, *faults: Fault) -> None:
        assert self.middleware is not None
        self.middleware.faults = list(faults)


@pytest.fixture(scope="module")
def shared(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[World, Switchboard, bytes]]:
    """One synced world for every test that changes nothing in the service."""
    switchboard = Switchboard()
    world = open_world(tmp_path_factory.mktemp("refusals"), [switchboard.wrap])
    synced = world.sync()
    yield world, switchboard, synced
    world.close()


@pytest.fixture
def world(shared: tuple[World, Switchboard, bytes]) -> Iterator[World]:
    world, switchboard, synced = shared
    switchboard.set()
    yield world
    switchboard.set()
    assert world.file.read_bytes() == synced
    assert world.member_names("Engineering") == {"alice", "bob", "carol"}


@pytest.fixture
def faults(shared: tuple[World, Switchboard, bytes]) -> Callable[..., None]:
    return shared[1].set


def assert_refused(result: Result, exit_code: int, *words: str) -> str:
    """Exactly one error line holding every word; no traceback, no stdout."""
    assert result.exit_code == exit_code, result.output
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.output
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


def without(*path: str) -> Callable[[dict[str, Any]], None]:
    """An edit that deletes one key of the description."""

    def edit(data: dict[str, Any]) -> None:
        for key in path[:-1]:
            data = data[key]
        del data[path[-1]]

    return edit


# -- Before any request ---------------------------------------------------------


def test_without_p_nothing_is_sent_and_the_flag_is_named(world: World) -> None:
    result = world.revoke(world.membership("Engineering", "bob"), provisioning=False)

    assert_refused(
        result,
        2,
        "provisioning is not enabled",
        "-p/--provisioning",
        "BATON_PROVISIONING=true",
    )
    assert world.sent == []


def test_the_subcommands_also_need_p(world: World) -> None:
    group, dave = world.groups["Engineering"], world.users["dave"]

    result = world.cli("grant", "--group", group, "--user", dave, provisioning=False)

    assert_refused(result, 2, "-p/--provisioning")
    assert world.sent == []


def test_a_description_without_provisioning_names_the_key_to_add(world: World) -> None:
    config = world.describe(without("provisioning"), name="bare.yaml")

    result = world.grant(
        world.group_entitlement("Engineering"), world.users["dave"], config=config
    )

    assert_refused(
        result,
        2,
        "no provisioning section",
        "add provisioning.addUserToGroup",
        "bare.yaml",
    )
    assert world.sent == []


def test_a_description_without_the_action_names_its_key(world: World) -> None:
    config = world.describe(
        without("provisioning", "removeUserRole"), name="no-role-removal.yaml"
    )

    result = world.revoke(f"role:guest:member:user:{world.users['bob']}", config=config)

    assert_refused(
        result,
        2,
        "no provisioning.removeUserRole",
        "add provisioning.removeUserRole with op, path and valuePath",
    )
    assert world.sent == []


def test_an_op_that_cannot_remove_names_the_key(world: World) -> None:
    def add_to_remove(data: dict[str, Any]) -> None:
        data["provisioning"]["removeUserFromGroup"]["op"] = "add"

    config = world.describe(add_to_remove, name="wrong-op.yaml")

    result = world.revoke(world.membership("Engineering", "bob"), config=config)

    assert_refused(
        result, 2, "provisioning.removeUserFromGroup.op: 'add' cannot remove"
    )
    assert world.writes() == []


def test_an_unknown_entitlement_is_refused(world: World) -> None:
    result = world.grant("group:no-such-group:member", world.users["dave"])

    assert_refused(
        result,
        2,
        "entitlement 'group:no-such-group:member' is not in the latest sync",
        "baton entitlements",
    )
    assert world.sent == []


def test_an_unknown_grant_is_refused(world: World) -> None:
    result = world.revoke(world.membership("Sales", "alice"))

    assert_refused(
        result,
        2,
        f"grant '{world.membership('Sales', 'alice')}' is not in the latest sync",
    )
    assert world.sent == []


def test_an_unknown_principal_is_refused(world: World) -> None:
    result = world.grant(world.group_entitlement("Sales"), "no-such-user")

    assert_refused(result, 2, "user 'no-such-user' is not in the latest sync")
    assert world.sent == []


def test_a_principal_that_is_not_a_user_is_refused(world: World) -> None:
    result = world.cli(
        "--grant-entitlement", world.group_entitlement("Sales"),
        "--grant-principal", world.groups["Engineering"],
        "--grant-principal-type", "group",
    )  # fmt: skip

    assert_refused(result, 2, "principal type 'group'", "--grant-principal-type user")
    assert world.sent == []


def test_a_grant_without_principal_type_is_refused(world: World) -> None:
    result = world.cli(
        "--grant-entitlement", world.group_entitlement("Sales"),
        "--grant-principal", world.users["alice"],
    )  # fmt: skip

    assert_refused(result, 2, "--grant-principal-type is missing")


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (("--grant-entitlement", "group:g:member"), "--grant-principal is missing"),
        (
            ("--grant-principal", "u1", *PRINCIPAL_FLAGS),
            "--grant-entitlement is missing",
        ),
        (
            (
                "--revoke-grant",
                "group:g:member:user:u",
                "--grant-entitlement",
                "group:g:member",
            ),
            "cannot be combined",
        ),
    ],
)
def test_one_shot_flags_that_do_not_pair_are_refused(
    world: World, flags: tuple[str, ...], words: str
) -> None:
    assert_refused(world.cli(*flags), 2, words)


def test_the_subcommands_need_one_group_or_role_and_a_user(world: World) -> None:
    both = world.cli("grant", "--group", "g", "--role", "r", "--user", "u")
    no_user = world.cli("revoke", "--group", "g")

    assert_refused(both, 2, "exactly one of --group and --role")
    assert_refused(no_user, 2, "--user is missing")


def test_a_missing_c1z_file_is_named(world: World, tmp_path: Path) -> None:
    result = world.cli(
        "-f", str(tmp_path / "absent.c1z"),
        "--revoke-grant", world.membership("Engineering", "bob"),
    )  # fmt: skip

    assert_refused(result, 1, "absent.c1z: no such c1z file", "finished sync")


# -- Service errors -------------------------------------------------------------------


def on_write(status: int, detail: str) -> CannedFault:
    """Answer every PATCH with an RFC 7644 §3.12 error body."""

    def make(_: RecordedRequest) -> Response:
        return Response.error_reply(status, detail)

    return CannedFault(make, method="PATCH")


def test_403_says_the_credentials_cannot_change_access(
    world: World, faults: Callable[..., None]
) -> None:
    # RFC 7644 §3.12: 403 when the credentials do not allow the operation,
    # as with a read-only token.
    faults(on_write(403, "Insufficient scope"))
    gid, dave = world.groups["Engineering"], world.users["dave"]

    result = world.grant(world.group_entitlement("Engineering"), dave)

    assert_refused(
        result, 1,
        f"cannot grant group:{gid}:member to user:{dave}",
        f"PATCH /v2/Groups/{gid}: the service answered 403: Insufficient scope",
        "may read but not change access",
    )  # fmt: skip


def test_409_says_the_change_conflicts_with_the_service(
    world: World, faults: Callable[..., None]
) -> None:
    # RFC 7644 §3.12: 409 when a change conflicts with the resource's state.
    faults(on_write(409, "Membership is managed by a rule"))
    gid, bob = world.groups["Engineering"], world.users["bob"]

    result = world.revoke(world.membership("Engineering", "bob"))

    assert_refused(
        result, 1,
        f"cannot revoke group:{gid}:member from user:{bob}",
        "answered 409: Membership is managed by a rule",
        "conflicts with the group",
    )  # fmt: skip


def test_409_on_a_grant_is_a_failure_when_the_member_is_still_absent(
    world: World, faults: Callable[..., None]
) -> None:
    faults(on_write(409, "Conflict"))

    result = world.grant(world.group_entitlement("Sales"), world.users["bob"])

    assert_refused(result, 1, "answered 409: Conflict", "run a sync, then try again")
    assert world.methods() == ["GET", "PATCH", "GET"]


def test_a_wrong_token_is_a_credentials_error_and_is_not_shown(world: World) -> None:
    result = world.revoke(
        world.membership("Engineering", "bob"), token="wrong-token-456"
    )

    assert_refused(result, 1, "401", "check the credentials")
    assert "wrong-token-456" not in result.output


def test_404_says_the_group_left_the_service(tmp_path: Path) -> None:
    world = open_world(tmp_path)
    try:
        before = world.sync()
        gid = world.groups["Sales"]
        assert world.http.delete(f"/Groups/{gid}").status_code == 204

        result = world.grant(world.group_entitlement("Sales"), world.users["alice"])

        assert_refused(
            result, 1,
            f"GET /v2/Groups/{gid}: the service answered 404",
            "the group is no longer in the service; run a sync",
        )  # fmt: skip
        assert world.file.read_bytes() == before
    finally:
        world.close()
