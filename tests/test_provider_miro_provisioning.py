"""Miro end to end: a sync, then every change through ``-p``.

A module-scoped fixture syncs a small Miro-shaped organisation through the
command line; each test then runs one change with Baton's one-shot flags
against a fresh server holding the same organisation, and checks the exact
requests, the organisation afterwards, the one stdout line and that the
c1z file was only read.

Quirks reproduced, with their sources (docs/providers.md §2.3):

- ``Authorization: Bearer <SCIM token>`` and ``Accept:
  application/scim+json`` (developers.miro.com/docs/scim);
- lists without ``itemsPerPage``/``startIndex`` (developers.miro.com/docs/groups);
- typed roles: one ``organization_user_role`` (``ORGANIZATION_INTERNAL_USER``
  or ``ORGANIZATION_INTERNAL_ADMIN``), any ``organization_admin_role``
  (``CreateUserResourceRolesInner`` of Miro's API clients;
  developers.miro.com/docs/users); the user role changes by replacing
  ``roles[primary eq true].value`` (``PatchUserResource``);
- removing a team member also strips them from every team board, so a
  removal names that member and is never a ``replace`` of the list
  (developers.miro.com/reference/patchgroup);
- ``PATCH /Groups`` over 500 bytes is allowed 5 times per 30 s, under 500
  bytes 100 times (developers.miro.com/docs/scim-rate-limits);
- §2.3 records no ``meta.version`` or ``ETag`` for Miro, so the fake serves
  a user or team without either: no change may depend on one.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.fake_scim import FakeScim, RecordedRequest, Response, json_response
from tests.support.provider_e2e import (
    ProviderCli,
    Sent,
    assert_changed,
    assert_failed,
    listed,
    patch_op,
)
from tests.test_provider_miro import (
    ADMIN_ROLE,
    INTERNAL_ADMIN,
    INTERNAL_USER,
    TEAMS,
    TOKEN,
    USER_ROLE,
    miro_server,
    uid,
)

SCIM = "application/scim+json"
READ = {"authorization": f"Bearer {TOKEN}", "accept": SCIM}
WRITE = {**READ, "content-type": SCIM}
TEAM_1, TEAM_2 = TEAMS[0]["id"], TEAMS[1]["id"]


def without_versions(holder: list[FakeScim]) -> Callable[..., Response | None]:
    """Serve ``GET /Users/{id}`` and ``/Groups/{id}`` with no version at all."""

    def handle(request: RecordedRequest) -> Response | None:
        server = holder[0]
        kind, _, resource_id = request.path.removeprefix(
            server.base_path + "/"
        ).partition("/")
        if request.method != "GET" or not resource_id:
            return None
        collection = server.users if kind == "Users" else server.groups
        resource = copy.deepcopy(next(r for r in collection if r["id"] == resource_id))
        resource.get("meta", {}).pop("version", None)
        return json_response(200, resource)

    return handle


def miro() -> FakeScim:
    holder: list[FakeScim] = []
    server = miro_server(before_request=without_versions(holder))
    holder.append(server)
    return server


def roles(server: FakeScim) -> dict[str, list[tuple[str, str]]]:
    """Each user's roles as (value, type), in the order Miro holds them."""
    return {
        user["id"]: [(role["value"], role["type"]) for role in user.get("roles", [])]
        for user in server.users
    }


@pytest.fixture(scope="module")
def miro_cli(tmp_path_factory):
    cli = ProviderCli(
        "miro", (f"--token={TOKEN}",), tmp_path_factory.mktemp("miro") / "sync.c1z"
    )
    with miro() as server:
        result = cli.sync(server)

    assert result.exit_code == 0, result.output
    # Every team in one request: GET /Groups is allowed 5 times per 30 s.
    assert sorted((r.method, r.path, r.query_string) for r in server.requests) == [
        ("GET", "/api/v1/scim/Groups", "startIndex=1&count=1000"),
        ("GET", "/api/v1/scim/Users", "startIndex=1&count=1000"),
    ]
    return cli


@pytest.fixture
def org() -> Iterator[FakeScim]:
    with miro() as server:
        yield server


def get(path: str) -> Sent:
    return Sent("GET", f"/api/v1/scim/{path}", "", READ)


def patch(path: str, *operations: dict[str, Any]) -> Sent:
    return Sent("PATCH", f"/api/v1/scim/{path}", "", WRITE, patch_op(*operations))


# -- Teams -------------------------------------------------------------------


def test_miro_grant_membership_is_one_patch_under_500_bytes(miro_cli, org):
    before = listed(org.groups, "members")

    run = miro_cli.grant(org, f"group:{TEAM_2}:member", uid(6))

    assert_changed(run, f"granted group:{TEAM_2}:member to user:{uid(6)}")
    add = {"op": "add", "path": "members", "value": [{"value": uid(6)}]}
    assert run.sent == [get(f"Groups/{TEAM_2}"), patch(f"Groups/{TEAM_2}", add)]
    assert len(json.dumps(run.sent[-1].body)) < 500
    assert listed(org.groups, "members") == {**before, TEAM_2: [uid(5), uid(6)]}


def test_miro_revoke_membership_names_that_member_and_never_replaces(miro_cli, org):
    before = listed(org.groups, "members")

    run = miro_cli.revoke(org, f"group:{TEAM_1}:member:user:{uid(2)}")

    # A replace would strip whoever it leaves out from all the team's boards.
    assert_changed(run, f"revoked group:{TEAM_1}:member from user:{uid(2)}")
    remove = {"op": "remove", "path": f'members[value eq "{uid(2)}"]'}
    assert run.sent == [get(f"Groups/{TEAM_1}"), patch(f"Groups/{TEAM_1}", remove)]
    assert listed(org.groups, "members") == {**before, TEAM_1: [uid(1), uid(3)]}


# -- Organization admin roles (any number per user) ----------------------------


def test_miro_grant_admin_role_adds_it_typed_beside_the_others(miro_cli, org):
    before = roles(org)

    run = miro_cli.grant(org, "role:content_admin:member", uid(2))

    # The c1z knows "content_admin"; its value and type are read on a holder.
    assert_changed(run, f"granted role:content_admin:member to user:{uid(2)}")
    item = {"value": "Content Admin", "type": ADMIN_ROLE, "primary": False}
    assert run.sent == [
        get(f"Users/{uid(2)}"),
        get(f"Users/{uid(1)}"),
        patch(f"Users/{uid(2)}", {"op": "add", "path": "roles", "value": [item]}),
    ]
    assert roles(org) == {
        **before,
        uid(2): [
            (INTERNAL_USER, USER_ROLE),
            ("Security Admin", ADMIN_ROLE),
            ("Content Admin", ADMIN_ROLE),
        ],
    }


def test_miro_revoke_admin_role_filters_on_value_and_type(miro_cli, org):
    before = roles(org)

    run = miro_cli.revoke(org, f"role:content_admin:member:user:{uid(1)}")

    # The type in the filter keeps the organization user role out of reach.
    assert_changed(run, f"revoked role:content_admin:member from user:{uid(1)}")
    path = 'roles[value eq "Content Admin" and type eq "organization_admin_role"]'
    assert run.sent == [
        get(f"Users/{uid(1)}"),
        patch(f"Users/{uid(1)}", {"op": "remove", "path": path}),
    ]
    assert roles(org) == {
        **before,
        uid(1): [(INTERNAL_ADMIN, USER_ROLE), ("User Admin", ADMIN_ROLE)],
    }


# -- The organization user role (exactly one per user) -------------------------


def test_miro_grant_organization_admin_replaces_the_primary_role(miro_cli, org):
    before = roles(org)

    run = miro_cli.grant(org, "role:organization_internal_admin:member", uid(2))

    # A replace through a filter sets one value and writes no list back, so
    # it needs no version (Miro gives none here).
    assert_changed(
        run, f"granted role:organization_internal_admin:member to user:{uid(2)}"
    )
    replace = {
        "op": "replace",
        "path": "roles[primary eq true].value",
        "value": INTERNAL_ADMIN,
    }
    assert run.sent == [
        get(f"Users/{uid(2)}"),
        get(f"Users/{uid(1)}"),
        patch(f"Users/{uid(2)}", replace),
    ]
    assert roles(org) == {
        **before,
        uid(2): [(INTERNAL_ADMIN, USER_ROLE), ("Security Admin", ADMIN_ROLE)],
    }


def test_miro_revoke_organization_admin_demotes_to_internal_user(miro_cli, org):
    before = roles(org)

    run = miro_cli.revoke(org, f"role:organization_internal_admin:member:user:{uid(1)}")

    assert_changed(
        run, f"revoked role:organization_internal_admin:member from user:{uid(1)}"
    )
    replace = {
        "op": "replace",
        "path": "roles[primary eq true].value",
        "value": INTERNAL_USER,
    }
    assert run.sent == [get(f"Users/{uid(1)}"), patch(f"Users/{uid(1)}", replace)]
    assert roles(org) == {
        **before,
        uid(1): [
            (INTERNAL_USER, USER_ROLE),
            ("Content Admin", ADMIN_ROLE),
            ("User Admin", ADMIN_ROLE),
        ],
    }


def test_miro_revoke_internal_user_is_refused_before_any_write(miro_cli, org):
    before = roles(org)

    run = miro_cli.revoke(org, f"role:organization_internal_user:member:user:{uid(3)}")

    # Every Miro user holds one organization user role: it cannot go.
    assert_failed(run, 1, "always hold an organization user role", "deactivate")
    assert run.sent == [get(f"Users/{uid(3)}")]
    assert roles(org) == before
