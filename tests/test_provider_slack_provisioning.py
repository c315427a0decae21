"""Slack end to end: a sync, then every change through ``-p``, for both APIs.

Each module-scoped fixture syncs a small Slack-shaped directory through the
command line; each test then runs one change with Baton's one-shot flags
against a fresh server holding the same directory, and checks the exact
requests, the server's state afterwards, the one stdout line and that the
c1z file was only read.

Quirks reproduced, with their sources (docs/providers.md §2.1):

- the admin token as ``Authorization: Bearer xoxp-...`` (api.slack.com/scim;
  slack_sdk ``scim/v1/client.py``), and plain JSON (``hasScimHeader: false``);
- a group PATCH answered 204 with no body, a user PATCH 200 with the user
  (slack_sdk ``integration_tests/scim/test_scim_client_write.py``);
- v2 PATCH bodies with an ``Operations`` list (docs.slack.dev/admins/scim-api);
- v1 SCIM 1.1 partial-resource bodies, an item to remove marked
  ``"operation": "delete"`` (§2.1, unverified against the live API).
"""

from __future__ import annotations

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
from tests.test_provider_slack import (
    CORE_1_0,
    GROUPS,
    TOKEN,
    scim11_patch,
    slack_user,
)

JSON = "application/json"
READ = {"authorization": f"Bearer {TOKEN}", "accept": JSON}
WRITE = {**READ, "content-type": JSON}
USERS = 8


# -- slack: SCIM 2.0 at /scim/v2 ---------------------------------------------


def slack_v2() -> FakeScim:
    """Slack's v2 API: 1000 a page at most, 10 without count, 204 on groups."""
    return FakeScim(
        [slack_user(n) for n in range(1, USERS + 1)],
        GROUPS,
        base_path="/scim/v2",
        token=TOKEN,
        max_count=1000,
        default_count=10,
        patch_status={"Groups": 204},
        content_type=JSON,
    )


@pytest.fixture(scope="module")
def v2_cli(tmp_path_factory):
    cli = ProviderCli(
        "slack", (f"--token={TOKEN}",), tmp_path_factory.mktemp("slack") / "s.c1z"
    )
    with slack_v2() as server:
        result = cli.sync(server)

    assert result.exit_code == 0, result.output
    # Slack pages hold 10 unless count is given: it is, at Slack's cap.
    assert sorted((r.method, r.path, r.query_string) for r in server.requests) == [
        ("GET", "/scim/v2/Groups", "startIndex=1&count=1000"),
        ("GET", "/scim/v2/Users", "startIndex=1&count=1000"),
    ]
    return cli


@pytest.fixture
def v2():
    with slack_v2() as server:
        yield server


def v2_get(path: str) -> Sent:
    return Sent("GET", f"/scim/v2/{path}", "", READ)


def v2_patch(path: str, body: dict[str, Any]) -> Sent:
    return Sent("PATCH", f"/scim/v2/{path}", "", WRITE, body)


def test_slack_grant_membership_adds_the_member_despite_the_204(v2_cli, v2):
    before = listed(v2.groups, "members")

    run = v2_cli.grant(v2, "group:S0002:member", "U00008")

    assert_changed(run, "granted group:S0002:member to user:U00008")
    assert run.sent == [
        v2_get("Groups/S0002"),
        v2_patch(
            "Groups/S0002",
            patch_op({"op": "add", "path": "members", "value": [{"value": "U00008"}]}),
        ),
    ]
    assert listed(v2.groups, "members") == {
        **before,
        "S0002": ["U00005", "U00006", "U00008"],
    }


def test_slack_revoke_membership_filters_on_that_member_only(v2_cli, v2):
    before = listed(v2.groups, "members")

    run = v2_cli.revoke(v2, "group:S0001:member:user:U00002")

    assert_changed(run, "revoked group:S0001:member from user:U00002")
    assert run.sent == [
        v2_get("Groups/S0001"),
        v2_patch(
            "Groups/S0001",
            patch_op({"op": "remove", "path": 'members[value eq "U00002"]'}),
        ),
    ]
    assert listed(v2.groups, "members") == {
        **before,
        "S0001": ["U00001", "U00003", "U00004"],
    }


def test_slack_grant_role_learns_the_value_from_a_holder_and_adds_it(v2_cli, v2):
    before = listed(v2.users, "roles")

    run = v2_cli.grant(v2, "role:admin:member", "U00002")

    # The c1z knows the role as "admin"; U00001 holds it, so its SCIM value
    # is read there before the user is changed.
    assert_changed(run, "granted role:admin:member to user:U00002")
    assert run.sent == [
        v2_get("Users/U00002"),
        v2_get("Users/U00001"),
        v2_patch(
            "Users/U00002",
            patch_op({"op": "add", "path": "roles", "value": [{"value": "admin"}]}),
        ),
    ]
    assert listed(v2.users, "roles") == {**before, "U00002": ["admin"]}


def test_slack_revoke_role_removes_that_role_only(v2_cli, v2):
    before = listed(v2.users, "roles")

    run = v2_cli.revoke(v2, "role:admin:member:user:U00001")

    assert_changed(run, "revoked role:admin:member from user:U00001")
    assert run.sent == [
        v2_get("Users/U00001"),
        v2_patch(
            "Users/U00001",
            patch_op({"op": "remove", "path": 'roles[value eq "admin"]'}),
        ),
    ]
    assert listed(v2.users, "roles") == {**before, "U00001": []}


def test_slack_grant_subcommand_sends_what_the_one_shot_flags_send(v2_cli, v2):
    run = v2_cli.provision(v2, "grant", "--group", "S0003", "--user", "U00007")

    assert_changed(run, "granted group:S0003:member to user:U00007")
    assert [(s.method, s.path, s.body) for s in run.sent] == [
        ("GET", "/scim/v2/Groups/S0003", None),
        (
            "PATCH",
            "/scim/v2/Groups/S0003",
            patch_op({"op": "add", "path": "members", "value": [{"value": "U00007"}]}),
        ),
    ]
    assert listed(v2.groups, "members")["S0003"] == ["U00007"]


# -- slack-v1: SCIM 1.1 at /scim/v1 ---------------------------------------------


def slack_v1() -> FakeScim:
    """Slack's v1 API, applying SCIM 1.1 PATCH bodies (204 groups, 200 users)."""
    holder: list[FakeScim] = []
    server = FakeScim(
        [slack_user(n, [CORE_1_0]) for n in range(1, USERS + 1)],
        GROUPS,
        base_path="/scim/v1",
        token=TOKEN,
        max_count=1000,
        content_type=JSON,
        before_request=scim11_patch(holder),
    )
    holder.append(server)
    return server


@pytest.fixture(scope="module")
def v1_cli(tmp_path_factory):
    cli = ProviderCli(
        "slack-v1", (f"--token={TOKEN}",), tmp_path_factory.mktemp("v1") / "s.c1z"
    )
    with slack_v1() as server:
        result = cli.sync(server)

    assert result.exit_code == 0, result.output
    return cli


@pytest.fixture
def v1():
    with slack_v1() as server:
        yield server


def v1_get(path: str) -> Sent:
    return Sent("GET", f"/scim/v1/{path}", "", READ)


def v1_patch(path: str, body: dict[str, Any]) -> Sent:
    return Sent("PATCH", f"/scim/v1/{path}", "", WRITE, body)


def test_slack_v1_grant_membership_sends_a_partial_group(v1_cli, v1):
    before = listed(v1.groups, "members")

    run = v1_cli.grant(v1, "group:S0002:member", "U00008")

    assert_changed(run, "granted group:S0002:member to user:U00008")
    assert run.sent == [
        v1_get("Groups/S0002"),
        v1_patch(
            "Groups/S0002", {"schemas": [CORE_1_0], "members": [{"value": "U00008"}]}
        ),
    ]
    assert listed(v1.groups, "members") == {
        **before,
        "S0002": ["U00005", "U00006", "U00008"],
    }


def test_slack_v1_revoke_membership_marks_that_member_deleted(v1_cli, v1):
    before = listed(v1.groups, "members")

    run = v1_cli.revoke(v1, "group:S0001:member:user:U00003")

    assert_changed(run, "revoked group:S0001:member from user:U00003")
    assert run.sent == [
        v1_get("Groups/S0001"),
        v1_patch(
            "Groups/S0001",
            {
                "schemas": [CORE_1_0],
                "members": [{"value": "U00003", "operation": "delete"}],
            },
        ),
    ]
    assert listed(v1.groups, "members") == {
        **before,
        "S0001": ["U00001", "U00002", "U00004"],
    }


def test_slack_v1_grant_role_sends_a_partial_user(v1_cli, v1):
    before = listed(v1.users, "roles")

    run = v1_cli.grant(v1, "role:admin:member", "U00005")

    assert_changed(run, "granted role:admin:member to user:U00005")
    assert run.sent == [
        v1_get("Users/U00005"),
        v1_get("Users/U00001"),
        v1_patch(
            "Users/U00005", {"schemas": [CORE_1_0], "roles": [{"value": "admin"}]}
        ),
    ]
    assert listed(v1.users, "roles") == {**before, "U00005": ["admin"]}


def test_slack_v1_revoke_role_marks_that_role_deleted(v1_cli, v1):
    before = listed(v1.users, "roles")

    run = v1_cli.revoke(v1, "role:admin:member:user:U00001")

    assert_changed(run, "revoked role:admin:member from user:U00001")
    assert run.sent == [
        v1_get("Users/U00001"),
        v1_patch(
            "Users/U00001",
            {
                "schemas": [CORE_1_0],
                "roles": [{"value": "admin", "operation": "delete"}],
            },
        ),
    ]
    assert listed(v1.users, "roles") == {**before, "U00001": []}


def test_each_slack_provider_refuses_the_other_apis_endpoint(v1_cli, v2_cli, v1, v2):
    # Each API misreads the other's PATCH body (docs.slack.dev/admins/scim-api):
    # the provider names the one to use before anything is written.
    before = (listed(v1.groups, "members"), listed(v2.groups, "members"))

    v2_body_to_v1 = v2_cli.grant(v1, "group:S0002:member", "U00008")
    v1_body_to_v2 = v1_cli.grant(v2, "group:S0002:member", "U00008")

    assert_failed(
        v2_body_to_v1, 1, "Slack's SCIM v1 API", "--service-provider slack-v1"
    )
    assert_failed(v1_body_to_v2, 1, "Slack's SCIM v2 API", "--service-provider slack)")
    assert v2_body_to_v1.sent == [v1_get("Groups/S0002")]
    assert v1_body_to_v2.sent == [v2_get("Groups/S0002")]
    assert (listed(v1.groups, "members"), listed(v2.groups, "members")) == before
