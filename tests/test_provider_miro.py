"""The miro provider against a server shaped like Miro's SCIM API.

Each quirk is named with its source in docs/providers.md (§2.3 unless said
otherwise): lists without ``itemsPerPage``/``startIndex``, typed roles
(one ``organization_user_role``, any ``organization_admin_role``), teams as
groups whose member removal also strips boards, and 5 group listings per
30 seconds.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from baton_scim.errors import ProvisioningError
from baton_scim.records import RoleRef

from tests.support.cli import run_cli
from tests.support.fake_scim import FakeScim
from tests.support.provider_fakes import (
    change,
    prepare_provider,
    request_for,
    send,
    sent,
)
from tests.support.snapshot import snapshot

TOKEN = "miro-scim-token-for-tests"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER_ROLE = "organization_user_role"
ADMIN_ROLE = "organization_admin_role"
INTERNAL_USER = "ORGANIZATION_INTERNAL_USER"
INTERNAL_ADMIN = "ORGANIZATION_INTERNAL_ADMIN"


def uid(n: int) -> str:
    return str(3074457345618260000 + n)


def miro_user(
    n: int, admin_roles: tuple[str, ...] = (), user_role: str = INTERNAL_USER
) -> dict[str, Any]:
    """A user as Miro lists it, with its typed roles (Miro's users page)."""
    roles = [{"value": user_role, "type": USER_ROLE, "primary": True}]
    roles += [
        {"value": name, "display": name, "type": ADMIN_ROLE, "primary": False}
        for name in admin_roles
    ]
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": uid(n),
        "userName": f"user{n}@example.com",
        "name": {"givenName": f"Given{n}", "familyName": f"Family{n}"},
        "displayName": f"Given{n} Family{n}",
        "userType": "Full",
        "active": True,
        "emails": [{"value": f"user{n}@example.com", "primary": True}],
        "roles": roles,
    }


def miro_team(n: int, members: list[int]) -> dict[str, Any]:
    """A team as Miro lists it: members typed User (Miro's groups page)."""
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": str(3458764517517852400 + n),
        "displayName": f"Team {n}",
        "members": [{"value": uid(m), "type": "User"} for m in members],
    }


def directory(users: int) -> list[dict[str, Any]]:
    special = {
        1: miro_user(1, ("Content Admin", "User Admin"), INTERNAL_ADMIN),
        2: miro_user(2, ("Security Admin",)),
    }
    return [special.get(n) or miro_user(n) for n in range(1, users + 1)]


TEAMS = [miro_team(n, [1, 2, 3] if n == 1 else [n + 3]) for n in range(1, 31)]


def miro_server(users: int = 6, **kwargs: Any) -> FakeScim:
    options: dict[str, Any] = {
        "base_path": "/api/v1/scim",
        "token": TOKEN,
        # Miro's documented list has totalResults and Resources only.
        "omit_paging_fields": True,
    }
    options.update(kwargs)
    return FakeScim(directory(users), TEAMS, **options)


def sync_flags(server: FakeScim, out: Any) -> list[str]:
    return [
        "--service-provider=miro",
        f"--token={TOKEN}",
        f"--api-endpoint={server.url}",
        f"--file={out}",
    ]


# -- Sync --------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_sync(tmp_path_factory):
    out = tmp_path_factory.mktemp("miro") / "sync.c1z"
    with miro_server(users=2500) as server:
        result = run_cli(*sync_flags(server, out))
        assert result.exit_code == 0, result.output
        yield list(server.requests), snapshot(out)


def test_sync_pages_by_received_count_without_paging_fields(big_sync):
    requests, snap = big_sync

    # Every team in one request (GET /Groups: 5 per 30 s); users in pages
    # that move on by what arrived, since no itemsPerPage/startIndex come.
    assert sorted(sent(r) for r in requests) == [
        ("GET", "/api/v1/scim/Groups", "startIndex=1&count=1000"),
        ("GET", "/api/v1/scim/Users", "startIndex=1&count=1000"),
        ("GET", "/api/v1/scim/Users", "startIndex=1001&count=1000"),
        ("GET", "/api/v1/scim/Users", "startIndex=2001&count=500"),
    ]
    for request in requests:
        assert request.header("Authorization") == f"Bearer {TOKEN}"
        assert request.header("Accept") == "application/scim+json"
        assert request.body == b""
    users = [r for r in snap["resources"] if r[0] == "user"]
    assert len(users) == 2500


def test_typed_roles_become_roles_and_teams_become_groups(big_sync):
    _, snap = big_sync
    roles = {g[3] for g in snap["grants"] if g[2] == "role"}
    holders = {(g[3], g[5]) for g in snap["grants"] if g[2] == "role"}
    teams = {(g[3], g[5]) for g in snap["grants"] if g[2] == "group"}

    assert roles == {
        "organization_internal_admin",
        "organization_internal_user",
        "content_admin",
        "user_admin",
        "security_admin",
    }
    assert ("organization_internal_admin", uid(1)) in holders
    assert ("content_admin", uid(1)) in holders
    assert ("security_admin", uid(2)) in holders
    assert len([h for h in holders if h[0] == "organization_internal_user"]) == 2499
    assert ("3458764517517852401", uid(2)) in teams
    assert len(teams) == 3 + 29


def test_shorter_pages_than_asked_are_followed_where_they_end(tmp_path):
    # Miro documents no cap on count: a page shorter than asked is taken
    # as it comes and the next one starts after it.
    with miro_server(users=250, max_count=100) as server:
        result = run_cli(*sync_flags(server, tmp_path / "sync.c1z"))

    assert result.exit_code == 0, result.output
    users = sorted(sent(r) for r in server.requests if r.path.endswith("/Users"))
    assert users == [
        ("GET", "/api/v1/scim/Users", "startIndex=1&count=1000"),
        ("GET", "/api/v1/scim/Users", "startIndex=101&count=100"),
        ("GET", "/api/v1/scim/Users", "startIndex=201&count=50"),
    ]
    kinds = [r[0] for r in snapshot(tmp_path / "sync.c1z")["resources"]]
    assert kinds.count("user") == 250


def test_description_keeps_under_miros_per_30_seconds_limits():
    context = prepare_provider("miro", "https://miro.com/api/v1/scim/", token=TOKEN)
    pagination, limit = context.config.pagination, context.config.http.rate_limit

    assert pagination.page_size == 1000
    assert limit is not None
    assert (limit.requests, limit.per_seconds) == (100, 30)


# -- Provisioning ---------------------------------------------------------------


@pytest.fixture
def miro_writable():
    with miro_server() as server:
        yield server, prepare_provider("miro", server.url, token=TOKEN)


def user_roles(server: FakeScim, n: int) -> list[tuple[str, str]]:
    user = next(u for u in server.users if u["id"] == uid(n))
    return [(r["value"], r["type"]) for r in user["roles"]]


def test_add_member_is_a_small_patchop_add(miro_writable):
    server, context = miro_writable
    team = TEAMS[1]["id"]
    request = request_for(
        context, change(context, "add_user_to_group", uid(6), group_id=team)
    )

    assert (request.method, request.path, request.headers) == (
        "PATCH",
        f"Groups/{team}",
        {},
    )
    assert request.body == {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": uid(6)}]}],
    }
    # PATCH /Groups under 500 bytes is allowed 100 times per 30 s, not 5.
    assert len(json.dumps(request.body)) < 500
    assert send(context, request)[0] == 200
    patch = server.requests[-1]
    assert patch.header("Authorization") == f"Bearer {TOKEN}"
    assert patch.header("Content-Type") == "application/scim+json"
    assert [m["value"] for m in server.groups[1]["members"]] == [uid(5), uid(6)]


def test_remove_member_takes_out_that_member_only(miro_writable):
    server, context = miro_writable
    team = TEAMS[0]["id"]
    request = request_for(
        context, change(context, "remove_user_from_group", uid(2), group_id=team)
    )

    assert (request.method, request.path) == ("PATCH", f"Groups/{team}")
    assert request.body == {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "remove", "path": f'members[value eq "{uid(2)}"]'}],
    }
    assert len(json.dumps(request.body)) < 500
    assert send(context, request)[0] == 200
    assert [m["value"] for m in server.groups[0]["members"]] == [uid(1), uid(3)]


def test_member_removal_by_replace_is_refused(miro_writable):
    # On Miro, remove/replace "removes the team member from the team and
    # from all team boards": a replace of the list does it to everyone it
    # leaves out (developers.miro.com/reference/patchgroup).
    _, context = miro_writable
    remove = change(context, "remove_user_from_group", uid(2), group_id="t")
    operation = remove.operation.model_copy(update={"op": "Replace"})

    with pytest.raises(ProvisioningError, match="all the team's boards") as caught:
        request_for(context, dataclasses.replace(remove, operation=operation))
    assert "op: remove" in (caught.value.hint or "")


def test_grant_admin_role_adds_a_typed_role(miro_writable):
    server, context = miro_writable
    role = RoleRef("Content Admin", "Content Admin", ADMIN_ROLE)
    request = request_for(context, change(context, "add_user_role", uid(2), role=role))

    assert (request.method, request.path) == ("PATCH", f"Users/{uid(2)}")
    assert request.body == {
        "schemas": [PATCH_OP],
        "Operations": [
            {
                "op": "add",
                "path": "roles",
                "value": [
                    {"value": "Content Admin", "type": ADMIN_ROLE, "primary": False}
                ],
            }
        ],
    }
    assert send(context, request)[0] == 200
    assert user_roles(server, 2) == [
        (INTERNAL_USER, USER_ROLE),
        ("Security Admin", ADMIN_ROLE),
        ("Content Admin", ADMIN_ROLE),
    ]


def test_revoke_admin_role_never_touches_the_user_role(miro_writable):
    server, context = miro_writable
    role = RoleRef("Content Admin", "Content Admin", ADMIN_ROLE)
    request = request_for(
        context, change(context, "remove_user_role", uid(1), role=role)
    )

    assert request.body == {
        "schemas": [PATCH_OP],
        "Operations": [
            {
                "op": "remove",
                "path": 'roles[value eq "Content Admin" and '
                'type eq "organization_admin_role"]',
            }
        ],
    }
    assert send(context, request)[0] == 200
    assert user_roles(server, 1) == [
        (INTERNAL_ADMIN, USER_ROLE),
        ("User Admin", ADMIN_ROLE),
    ]


def test_grant_organization_admin_replaces_the_primary_user_role(miro_writable):
    # Miro: the user role changes with replace roles[primary eq true].value
    # (PatchUserResource of Miro's API clients).
    server, context = miro_writable
    role = RoleRef(INTERNAL_ADMIN, None, USER_ROLE)
    request = request_for(context, change(context, "add_user_role", uid(2), role=role))

    assert request.body == {
        "schemas": [PATCH_OP],
        "Operations": [
            {
                "op": "replace",
                "path": "roles[primary eq true].value",
                "value": INTERNAL_ADMIN,
            }
        ],
    }
    assert send(context, request)[0] == 200
    assert user_roles(server, 2) == [
        (INTERNAL_ADMIN, USER_ROLE),
        ("Security Admin", ADMIN_ROLE),
    ]


def test_revoke_organization_admin_demotes_to_internal_user(miro_writable):
    server, context = miro_writable
    role = RoleRef(INTERNAL_ADMIN, None, USER_ROLE)
    request = request_for(
        context, change(context, "remove_user_role", uid(1), role=role)
    )

    assert request.body == {
        "schemas": [PATCH_OP],
        "Operations": [
            {
                "op": "replace",
                "path": "roles[primary eq true].value",
                "value": INTERNAL_USER,
            }
        ],
    }
    assert send(context, request)[0] == 200
    assert user_roles(server, 1) == [
        (INTERNAL_USER, USER_ROLE),
        ("Content Admin", ADMIN_ROLE),
        ("User Admin", ADMIN_ROLE),
    ]


def test_revoke_internal_user_role_is_refused(miro_writable):
    _, context = miro_writable
    role = RoleRef(INTERNAL_USER, None, USER_ROLE)

    with pytest.raises(ProvisioningError, match="always hold"):
        request_for(context, change(context, "remove_user_role", uid(2), role=role))


def test_role_type_is_inferred_from_the_value_when_missing(miro_writable):
    _, context = miro_writable
    admin = request_for(
        context, change(context, "remove_user_role", uid(1), role=RoleRef("User Admin"))
    )
    user = request_for(
        context, change(context, "add_user_role", uid(2), role=RoleRef(INTERNAL_ADMIN))
    )

    [remove] = admin.body["Operations"]
    assert remove["path"].endswith('and type eq "organization_admin_role"]')
    [replace] = user.body["Operations"]
    assert replace["path"] == "roles[primary eq true].value"
