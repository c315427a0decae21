"""Postman end to end: a sync, then every change it has through ``-p``.

A module-scoped fixture syncs a small Postman-shaped team through the
command line; each test then runs one change with Baton's one-shot flags
against a fresh server holding the same team, and checks the exact
requests, the team afterwards, the one stdout line and that the c1z file
was only read.

Quirks reproduced, with their sources (docs/providers.md §2.4):

- the SCIM API key sent as ``Authorization: Bearer <key>``, never as
  Postman's ``X-Api-Key`` (Microsoft Entra's Postman tutorial; secondary
  design note), with plain JSON;
- users without ``emails``, the ``userName`` being the address (Postman API
  collection; liblab model ``Resources``);
- 100 users a page without ``count`` (Postman API collection);
- a member removed with ``{"op": "remove", "path": "members", "value":
  [{"value": id}]}``, the form Microsoft Entra sends Postman (plugin README);
- no roles over SCIM: new users get the developer role and roles change in
  Postman itself (Postman API collection), so a role change is refused
  before anything is read or sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.fake_scim import FakeScim
from tests.support.provider_e2e import (
    ProviderCli,
    Sent,
    assert_changed,
    assert_failed,
    listed,
    patch_op,
)
from tests.test_provider_postman import API_KEY, GROUPS, postman_server

JSON = "application/json"
READ = {"authorization": f"Bearer {API_KEY}", "accept": JSON}
WRITE = {**READ, "content-type": JSON}
API, QA = GROUPS[0]["id"], GROUPS[1]["id"]


def member(n: int) -> str:
    return f"{n:032x}"


@pytest.fixture(scope="module")
def postman_cli(tmp_path_factory):
    file = tmp_path_factory.mktemp("postman") / "sync.c1z"
    cli = ProviderCli("postman", (f"--api-key={API_KEY}",), file)
    with postman_server() as server:
        result = cli.sync(server)

    assert result.exit_code == 0, result.output
    assert sorted((r.method, r.path, r.query_string) for r in server.requests) == [
        ("GET", "/scim/v2/Groups", "startIndex=1&count=100"),
        ("GET", "/scim/v2/Users", "startIndex=1&count=100"),
    ]
    assert all(r.header("X-Api-Key") is None for r in server.requests)
    return cli


@pytest.fixture
def team() -> Iterator[FakeScim]:
    with postman_server() as server:
        yield server


def get(path: str) -> Sent:
    return Sent("GET", f"/scim/v2/{path}", "", READ)


def patch(path: str, *operations: dict[str, Any]) -> Sent:
    return Sent("PATCH", f"/scim/v2/{path}", "", WRITE, patch_op(*operations))


def test_postman_grant_membership_adds_the_member(postman_cli, team):
    before = listed(team.groups, "members")

    run = postman_cli.grant(team, f"group:{API}:member", member(3))

    assert_changed(run, f"granted group:{API}:member to user:{member(3)}")
    add = {"op": "add", "path": "members", "value": [{"value": member(3)}]}
    assert run.sent == [get(f"Groups/{API}"), patch(f"Groups/{API}", add)]
    assert listed(team.groups, "members") == {
        **before,
        API: [member(1), member(2), member(3)],
    }


def test_postman_revoke_membership_lists_the_one_member_to_remove(postman_cli, team):
    before = listed(team.groups, "members")

    run = postman_cli.revoke(team, f"group:{API}:member:user:{member(1)}")

    assert_changed(run, f"revoked group:{API}:member from user:{member(1)}")
    remove = {"op": "remove", "path": "members", "value": [{"value": member(1)}]}
    assert run.sent == [get(f"Groups/{API}"), patch(f"Groups/{API}", remove)]
    assert listed(team.groups, "members") == {**before, API: [member(2)]}


@pytest.mark.parametrize(
    ("args", "verb"),
    [
        (
            (
                "--grant-entitlement", "role:developer:member",
                "--grant-principal", member(1),
                "--grant-principal-type", "user",
            ),
            "granted",
        ),
        (("--revoke-grant", f"role:admin:member:user:{member(1)}"), "revoked"),
        (("grant", "--role", "developer", "--user", member(2)), "granted"),
    ],
    ids=["grant-flags", "revoke-flags", "grant-subcommand"],
)  # fmt: skip
def test_postman_role_changes_are_refused_before_any_request(
    postman_cli, team, args: tuple[str, ...], verb: str
):
    before = (listed(team.users, "roles"), listed(team.groups, "members"))

    run = postman_cli.provision(team, *args)

    assert_failed(
        run,
        2,
        f"the postman provider has no roles (its description maps no user.roles), "
        f"so no role can be {verb} through it",
        "change roles in the service itself",
    )
    assert run.sent == []
    assert (listed(team.users, "roles"), listed(team.groups, "members")) == before
