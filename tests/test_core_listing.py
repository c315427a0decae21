"""Listing users and groups: paging, duplicates, groups on users, errors."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import run_cli
from tests.support.fake_scim import FakeScim, Response
from tests.support.snapshot import snapshot

TOKEN = "ref-token"


def _users(count: int) -> list[dict]:
    return [
        {"id": f"u{i:03}", "userName": f"user{i}", "name": {"givenName": f"U{i}"}}
        for i in range(count)
    ]


def _sync(config: Path, out: Path, *extra: str):
    return run_cli(
        "--scim-config", str(config), "--api-key", TOKEN, "-f", str(out), *extra
    )


def test_capped_pages_are_filled_in(reference_config, tmp_path):
    # Slack answers at most 1000 items whatever count asks (providers.md
    # §2.1): a page shorter than asked must not leave a gap.
    with FakeScim(_users(23), [], token=TOKEN, max_count=4) as server:
        result = _sync(
            reference_config(server.url), tmp_path / "s.c1z", "--page-size", "10"
        )
        starts = sorted(
            int(r.query["startIndex"])
            for r in server.requests
            if r.path.endswith("/Users")
        )

    assert result.exit_code == 0, result.output
    users = {r[1] for r in snapshot(tmp_path / "s.c1z")["resources"] if r[0] == "user"}
    assert users == {f"u{i:03}" for i in range(23)}
    assert starts == list(range(1, 24, 4))


def test_duplicate_ids_across_pages_are_dropped(reference_config, tmp_path):
    users = _users(6)
    users.insert(3, dict(users[0]))  # the service lists u000 twice
    with FakeScim(users, [], token=TOKEN) as server:
        result = _sync(
            reference_config(server.url), tmp_path / "s.c1z", "--page-size", "2"
        )

    assert result.exit_code == 0, result.output
    snap = snapshot(tmp_path / "s.c1z")
    assert sorted(r[1] for r in snap["resources"] if r[0] == "user") == [
        f"u{i:03}" for i in range(6)
    ]


def test_groups_on_users_resolve_ids_from_the_group_listing(reference_config, tmp_path):
    # Zoom lists groups without members and names each user's groups on
    # the user object (providers.md §2.2).
    users = [
        {"id": "u1", "userName": "a", "groups": [{"display": "Sales"}]},
        {
            "id": "u2",
            "userName": "b",
            "groups": [{"display": "Sales"}, {"display": "Ops", "value": "g2"}],
        },
        {"id": "u3", "userName": "c", "groups": [{"display": "Unknown"}]},
    ]
    groups = [{"id": "g1", "displayName": "Sales"}, {"id": "g2", "displayName": "Ops"}]
    config = reference_config("http://127.0.0.1:1/scim/v2")
    text = config.read_text().replace(
        '  active: "active"\n',
        '  active: "active"\n  hasGroupsOnUser: true\n  userGroup:\n'
        '    path: "groups"\n    name: "display"\n    id: "value"\n',
    )
    with FakeScim(users, groups, token=TOKEN) as server:
        config.write_text(text.replace("http://127.0.0.1:1/scim/v2/", server.url + "/"))
        result = _sync(config, tmp_path / "s.c1z")
        paths = {(r.method, r.path) for r in server.requests}

    assert result.exit_code == 0, result.output
    grants = {g[0] for g in snapshot(tmp_path / "s.c1z")["grants"] if g[2] == "group"}
    assert grants == {
        "group:g1:member:user:u1",
        "group:g1:member:user:u2",
        "group:g2:member:user:u2",
    }
    assert paths == {("GET", "/scim/v2/Users"), ("GET", "/scim/v2/Groups")}
    assert "Unknown" in result.stderr  # the unresolvable group is reported


def test_scim_error_says_status_detail_and_what_to_do(reference_config, tmp_path):
    def forbidden(request):
        return Response.error_reply(403, "token lacks the admin scope")

    with FakeScim([], [], token=TOKEN, before_request=forbidden) as server:
        result = _sync(reference_config(server.url), tmp_path / "s.c1z")

    assert result.exit_code == 1
    line = result.stderr.strip()
    assert "403" in line and "token lacks the admin scope" in line
    assert "permission" in line  # the hint
    assert not (tmp_path / "s.c1z").exists()
