"""A sync of a real scim2-server: everything arrives, list pages only."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from baton_scim.records import snake_case

from tests.support.cli import run_cli
from tests.support.scim_server import RequestLog, ScimServer, seed_directory
from tests.support.snapshot import snapshot

DESCRIPTION = Path(__file__).parent / "data" / "scim2-server.yaml"
PAGE_SIZE = 25


@pytest.fixture(scope="module")
def logged_server():
    log = RequestLog()
    with ScimServer(f"tok-{secrets.token_hex(8)}", app_wrapper=log.wrap) as server:
        directory = seed_directory(server, users=260, groups=20)
        log.clear()
        yield server, directory, log


@pytest.fixture(scope="module")
def synced(logged_server, tmp_path_factory):
    server, directory, log = logged_server
    out = tmp_path_factory.mktemp("sync") / "sync.c1z"
    result = run_cli(
        "--scim-config",
        str(DESCRIPTION),
        "--api-endpoint",
        server.url,
        "--token",
        server.token,
        "--page-size",
        str(PAGE_SIZE),
        "-f",
        str(out),
    )
    assert result.exit_code == 0, result.output
    return directory, snapshot(out), list(log.entries)


def _expected_email(user: dict) -> str:
    emails = user.get("emails", [])
    primary = [e["value"] for e in emails if e.get("primary") is True]
    return (primary or [e["value"] for e in emails] or [""])[0]


def test_every_user_is_a_resource_with_status_and_email(synced):
    directory, snap, _ = synced
    users = {r[1]: dict(r[3]) for r in snap["resources"] if r[0] == "user"}

    assert set(users) == {u["id"] for u in directory.users}
    for user in directory.users:
        trait = users[user["id"]]
        enabled = dict(trait["status"])["status"] == "STATUS_ENABLED"
        assert enabled is (user.get("active") is not False)
        assert dict(trait["emails"][0])["address"] == _expected_email(user)


def test_every_group_and_membership_is_in_the_file(synced):
    directory, snap, _ = synced
    groups = {r[1] for r in snap["resources"] if r[0] == "group"}
    memberships = {(g[3], g[5]) for g in snap["grants"] if g[2] == "group"}

    assert groups == {g["id"] for g in directory.groups}
    expected = {
        (g["id"], m["value"]) for g in directory.groups for m in g.get("members", [])
    }
    assert expected and memberships == expected


def test_every_role_assignment_is_a_grant(synced):
    directory, snap, _ = synced
    assignments = {(g[3], g[5]) for g in snap["grants"] if g[2] == "role"}

    expected = {
        (snake_case(r.get("display") or r["value"]), u["id"])
        for u in directory.users
        for r in u.get("roles", [])
    }
    assert expected and assignments == expected
    assert directory.inactive_ids  # the directory does have inactive users


def test_sync_sends_list_pages_only(synced):
    directory, _, requests = synced

    assert all(r.method == "GET" for r in requests)
    assert {r.path for r in requests} == {"/v2/Users", "/v2/Groups"}
    users_pages = -(-len(directory.users) // PAGE_SIZE)
    groups_pages = -(-len(directory.groups) // PAGE_SIZE)
    assert len(requests) == users_pages + groups_pages
    starts = sorted(
        int(r.query["startIndex"]) for r in requests if r.path.endswith("Users")
    )
    assert starts == list(range(1, len(directory.users) + 1, PAGE_SIZE))
    assert all(r.headers.get("accept") == "application/scim+json" for r in requests)
