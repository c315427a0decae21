"""The slack and slack-v1 providers against a server shaped like Slack's API.

Each quirk is named with its source in docs/providers.md (§2.1 unless said
otherwise). The fake is FakeScim, because scim2-server shows none of them:
a page cap of 1000, 10 items without ``count``, 204 on PATCH, 429 with
``Retry-After``, SCIM 1.1 PATCH bodies.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from baton_scim.errors import ProvisioningError
from baton_scim.records import RoleRef

from tests.support.cli import run_cli
from tests.support.fake_scim import (
    FakeScim,
    RecordedRequest,
    Response,
    json_response,
    rate_limit,
)
from tests.support.provider_fakes import (
    change,
    prepare_provider,
    request_for,
    send,
    sent,
)
from tests.support.snapshot import snapshot

TOKEN = "xoxp-test-admin-token"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
CORE_1_0 = "urn:scim:schemas:core:1.0"
V2_USER = [
    "urn:ietf:params:scim:schemas:core:2.0:User",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:ietf:params:scim:schemas:extension:slack:profile:2.0:User",
]


def slack_user(n: int, schemas: list[str] = V2_USER) -> dict[str, Any]:
    """A user as Slack lists it (slack_sdk's User model)."""
    user: dict[str, Any] = {
        "schemas": schemas,
        "id": f"U{n:05d}",
        "userName": f"user{n}",
        "nickName": f"user{n}",
        "name": {"givenName": f"Given{n}", "familyName": f"Family{n}"},
        "displayName": f"user{n}",
        "emails": [{"value": f"user{n}@example.com", "primary": True}],
        "active": n % 7 != 0,
        "groups": [],
        "timezone": "Europe/Paris",
    }
    if n % 100 == 1:
        user["roles"] = [{"value": "admin", "primary": True}]
    return user


def slack_group(gid: str, name: str, members: list[int]) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": gid,
        "displayName": name,
        "members": [{"value": f"U{n:05d}", "display": f"user{n}"} for n in members],
    }


GROUPS = [
    slack_group("S0001", "engineering", [1, 2, 3, 4]),
    slack_group("S0002", "design", [5, 6]),
    slack_group("S0003", "everyone-else", []),
]


def slack_server(users: int = 12, **kwargs: Any) -> FakeScim:
    options: dict[str, Any] = {
        "base_path": "/scim/v2",
        "token": TOKEN,
        # Slack reads count > 1000 as 1000 and gives 10 without count
        # (changelog 2019-06-have-scim-will-paginate).
        "max_count": 1000,
        "default_count": 10,
        # PATCH of a group answers 204 and no body (slack_sdk write tests).
        "patch_status": 204,
        "content_type": "application/json",
    }
    options.update(kwargs)
    directory = [slack_user(n) for n in range(1, users + 1)]
    return FakeScim(directory, GROUPS, **options)


def sync(server: FakeScim, out: Path, *flags: str) -> Any:
    result = run_cli(
        "--service-provider",
        "slack",
        "--token",
        TOKEN,
        "--api-endpoint",
        server.url,
        "-f",
        str(out),
        *flags,
    )
    assert result.exit_code == 0, result.output
    return result


# -- Sync --------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_sync(tmp_path_factory):
    with slack_server(users=1500) as server:
        out = tmp_path_factory.mktemp("slack") / "sync.c1z"
        sync(server, out)
        yield list(server.requests), snapshot(out)


def test_full_sync_sends_exactly_the_list_requests_slack_needs(big_sync):
    requests, _ = big_sync

    # 1000 per page at most (Slack's cap), asked for explicitly since
    # Slack would otherwise answer 10 at a time.
    assert sorted(sent(r) for r in requests) == [
        ("GET", "/scim/v2/Groups", "startIndex=1&count=1000"),
        ("GET", "/scim/v2/Users", "startIndex=1&count=1000"),
        ("GET", "/scim/v2/Users", "startIndex=1001&count=500"),
    ]
    for request in requests:
        assert request.header("Authorization") == f"Bearer {TOKEN}"
        assert request.header("Accept") == "application/json"
        assert request.header("Content-Type") is None
        assert request.body == b""


def test_full_sync_writes_every_user_group_membership_and_role(big_sync):
    _, snap = big_sync
    kinds = [r[0] for r in snap["resources"]]

    assert kinds.count("user") == 1500
    assert kinds.count("group") == 3
    assert kinds.count("role") == 1
    memberships = {(g[3], g[5]) for g in snap["grants"] if g[2] == "group"}
    assert memberships == {
        ("S0001", "U00001"),
        ("S0001", "U00002"),
        ("S0001", "U00003"),
        ("S0001", "U00004"),
        ("S0002", "U00005"),
        ("S0002", "U00006"),
    }
    admins = {g[5] for g in snap["grants"] if g[2] == "role"}
    assert admins == {f"U{n:05d}" for n in range(1, 1501, 100)}


def test_page_size_flag_never_exceeds_slacks_cap_of_1000(tmp_path):
    # Slack: "count > 1000 is evaluated as if 1000 were provided".
    with slack_server(users=3) as server:
        sync(server, tmp_path / "sync.c1z", "--page-size", "5000")

    assert {r.query["count"] for r in server.requests} == {"1000"}


def test_rate_limit_429_is_retried_after_the_seconds_slack_gives(tmp_path):
    # Slack's org-wide limits answer 429 with Retry-After in seconds
    # (docs.slack.dev/reference/scim-api/rate-limits).
    limited = rate_limit(1.0, retry_after="1", path_contains="/Users", times=1)
    with slack_server(users=3, faults=[limited]) as server:
        result = sync(server, tmp_path / "sync.c1z", "--log-level", "info")

    users = [sent(r) for r in server.requests if r.path.endswith("/Users")]
    assert users == [("GET", "/scim/v2/Users", "startIndex=1&count=1000")] * 2
    assert "in 1.0s" in result.stderr
    assert len(snapshot(tmp_path / "sync.c1z")["resources"]) == 3 + 3 + 1


def test_description_sets_slacks_documented_limits():
    context = prepare_provider("slack", "https://api.slack.com/scim/v2/", token=TOKEN)
    config = context.config

    assert config.api_endpoint == "https://api.slack.com/scim/v2/"
    assert config.pagination.max_page_size == 1000
    # At or under the smallest org-wide per-minute budget (180 group PATCHes).
    assert config.http.rate_limit is not None
    assert config.http.rate_limit.requests / config.http.rate_limit.per_seconds <= 3


# -- The guide's command lines ------------------------------------------------


def test_guide_token_flag_syncs_slack(tmp_path):
    with slack_server() as server:
        result = run_cli(
            f"--token={TOKEN}",
            "--service-provider=slack",
            f"--api-endpoint={server.url}",
            f"--file={tmp_path / 'sync.c1z'}",
        )

    assert result.exit_code == 0, result.output
    assert all(r.header("Authorization") == f"Bearer {TOKEN}" for r in server.requests)


def test_guide_environment_variables_sync_slack(tmp_path):
    with slack_server() as server:
        env = {
            "BATON_TOKEN": TOKEN,
            "BATON_SERVICE_PROVIDER": "slack",
            "BATON_API_ENDPOINT": server.url,
            "BATON_FILE": str(tmp_path / "sync.c1z"),
        }
        result = run_cli(env=env)

    assert result.exit_code == 0, result.output
    assert len(snapshot(tmp_path / "sync.c1z")["resources"]) == 12 + 3 + 1


# -- Provisioning: slack (SCIM 2.0 PatchOp) ----------------------------------


@pytest.fixture
def slack_v2():
    with slack_server() as server:
        yield server, prepare_provider("slack", server.url, token=TOKEN)


def test_add_member_is_one_patchop_add(slack_v2):
    _, context = slack_v2
    request = request_for(
        context, change(context, "add_user_to_group", "U00009", group_id="S0002")
    )

    assert request.method == "PATCH"
    assert request.path == "Groups/S0002"
    assert request.headers == {}
    assert request.body == {
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "add", "path": "members", "value": [{"value": "U00009"}]}
        ],
    }


def test_remove_member_filters_on_the_one_member(slack_v2):
    _, context = slack_v2
    request = request_for(
        context, change(context, "remove_user_from_group", "U00002", group_id="S0001")
    )

    assert (request.method, request.path) == ("PATCH", "Groups/S0001")
    assert request.body == {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "remove", "path": 'members[value eq "U00002"]'}],
    }


def test_group_patch_answered_204_without_body_is_a_success(slack_v2):
    # Slack answers a group PATCH with 204 and no body (slack_sdk write tests).
    server, context = slack_v2
    remove = change(context, "remove_user_from_group", "U00002", group_id="S0001")

    status, body = send(context, request_for(context, remove))

    assert (status, body) == (204, b"")
    patch = server.requests[-1]
    assert (patch.method, patch.path) == ("PATCH", "/scim/v2/Groups/S0001")
    assert patch.header("Authorization") == f"Bearer {TOKEN}"
    assert patch.header("Content-Type") == "application/json"
    assert patch.header("Accept") == "application/json"
    assert patch.json == {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "remove", "path": 'members[value eq "U00002"]'}],
    }
    members = [m["value"] for m in server.groups[0]["members"]]
    assert members == ["U00001", "U00003", "U00004"]


def test_add_and_remove_role_touch_only_that_role(slack_v2):
    server, context = slack_v2
    role = RoleRef("admin")
    grant = request_for(context, change(context, "add_user_role", "U00002", role=role))
    revoke = request_for(
        context, change(context, "remove_user_role", "U00001", role=role)
    )

    assert (grant.method, grant.path) == ("PATCH", "Users/U00002")
    assert grant.body == {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "add", "path": "roles", "value": [{"value": "admin"}]}],
    }
    assert (revoke.method, revoke.path) == ("PATCH", "Users/U00001")
    assert revoke.body == {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "remove", "path": 'roles[value eq "admin"]'}],
    }
    assert send(context, grant)[0] in (200, 204)
    assert send(context, revoke)[0] in (200, 204)
    users = {u["id"]: u for u in server.users}
    assert users["U00002"]["roles"] == [{"value": "admin"}]
    assert "roles" not in users["U00001"]


def test_v2_bodies_are_refused_for_the_v1_endpoint():
    context = prepare_provider("slack", "https://api.slack.com/scim/v1/", token=TOKEN)
    add = change(context, "add_user_to_group", "U1", group_id="S1")

    with pytest.raises(ProvisioningError, match="SCIM v1") as caught:
        request_for(context, add)
    assert caught.value.hint == "use --service-provider slack-v1"


# -- slack-v1 (SCIM 1.1) -------------------------------------------------------


def scim11_patch(server_of: list[FakeScim]):
    """Apply SCIM 1.1 PATCH bodies as Slack's v1 API reads them.

    A body is a partial resource: listed items are merged into the stored
    attribute, and an item marked ``"operation": "delete"`` is taken out
    (SCIM 1.1 §3.3.2; the shape for Slack is unverified, providers.md
    §2.1). Groups answer 204, users 200 (slack_sdk write tests).
    """

    def handle(request: RecordedRequest) -> Response | None:
        if request.method != "PATCH":
            return None
        server = server_of[0]
        kind, rid = request.path.rsplit("/", 2)[-2:]
        collection = server.groups if kind == "Groups" else server.users
        resource = next(r for r in collection if r["id"] == rid)
        _merge_scim11(resource, request.json)
        if kind == "Groups":
            return Response(204)
        return json_response(200, resource, "application/json")

    return handle


def _merge_scim11(resource: dict[str, Any], body: dict[str, Any]) -> None:
    for attribute, items in body.items():
        if attribute == "schemas":
            continue
        current = resource.setdefault(attribute, [])
        for item in items:
            value = item["value"]
            current[:] = [i for i in current if i.get("value") != value]
            if item.get("operation") != "delete":
                current.append({"value": value})


@pytest.fixture
def slack_v1():
    holder: list[FakeScim] = []
    users = [slack_user(n, [CORE_1_0]) for n in range(1, 7)]
    server = FakeScim(
        users,
        GROUPS,
        base_path="/scim/v1",
        token=TOKEN,
        max_count=1000,
        content_type="application/json",
        before_request=scim11_patch(holder),
    )
    holder.append(server)
    with server:
        yield server, prepare_provider("slack-v1", server.url, token=TOKEN)


def test_v1_syncs_the_same_list_shapes(slack_v1, tmp_path):
    server, _ = slack_v1
    out = tmp_path / "sync.c1z"
    result = run_cli(
        "--service-provider=slack-v1",
        f"--token={TOKEN}",
        f"--api-endpoint={server.url}",
        f"--file={out}",
    )

    assert result.exit_code == 0, result.output
    assert sorted(sent(r) for r in server.requests) == [
        ("GET", "/scim/v1/Groups", "startIndex=1&count=1000"),
        ("GET", "/scim/v1/Users", "startIndex=1&count=1000"),
    ]
    memberships = {(g[3], g[5]) for g in snapshot(out)["grants"] if g[2] == "group"}
    assert len(memberships) == 6


def test_v1_member_bodies_are_scim_1_1_partial_resources(slack_v1):
    server, context = slack_v1
    add = request_for(
        context, change(context, "add_user_to_group", "U00006", group_id="S0001")
    )
    remove = request_for(
        context, change(context, "remove_user_from_group", "U00001", group_id="S0001")
    )

    assert (add.method, add.path, add.headers) == ("PATCH", "Groups/S0001", {})
    assert add.body == {"schemas": [CORE_1_0], "members": [{"value": "U00006"}]}
    assert (remove.method, remove.path) == ("PATCH", "Groups/S0001")
    assert remove.body == {
        "schemas": [CORE_1_0],
        "members": [{"value": "U00001", "operation": "delete"}],
    }
    assert send(context, add) == (204, b"")
    assert send(context, remove) == (204, b"")
    assert json.loads(server.requests[-1].body) == remove.body
    members = [m["value"] for m in server.groups[0]["members"]]
    assert members == ["U00002", "U00003", "U00004", "U00006"]


def test_v1_role_bodies_are_scim_1_1_partial_resources(slack_v1):
    server, context = slack_v1
    role = RoleRef("admin")
    grant = request_for(context, change(context, "add_user_role", "U00002", role=role))
    revoke = request_for(
        context, change(context, "remove_user_role", "U00001", role=role)
    )

    assert (grant.method, grant.path) == ("PATCH", "Users/U00002")
    assert grant.body == {"schemas": [CORE_1_0], "roles": [{"value": "admin"}]}
    assert (revoke.method, revoke.path) == ("PATCH", "Users/U00001")
    assert revoke.body == {
        "schemas": [CORE_1_0],
        "roles": [{"value": "admin", "operation": "delete"}],
    }
    assert send(context, grant)[0] == 200
    assert send(context, revoke)[0] == 200
    users = {u["id"]: u for u in server.users}
    assert users["U00002"]["roles"] == [{"value": "admin"}]
    assert users["U00001"]["roles"] == []


def test_v1_refuses_a_replace_it_cannot_express(slack_v1):
    _, context = slack_v1
    remove = change(context, "remove_user_from_group", "U1", group_id="S1")
    replacing = remove.operation.model_copy(update={"op": "replace"})
    remove = dataclasses.replace(remove, operation=replacing)

    with pytest.raises(ProvisioningError, match=r"SCIM 1\.1 PATCH only adds"):
        request_for(context, remove)


def test_v1_bodies_are_refused_for_the_v2_endpoint():
    context = prepare_provider(
        "slack-v1", "https://api.slack.com/scim/v2/", token=TOKEN
    )
    add = change(context, "add_user_to_group", "U1", group_id="S1")

    with pytest.raises(ProvisioningError, match="SCIM v2") as caught:
        request_for(context, add)
    assert caught.value.hint == "use --service-provider slack"


def test_v1_error_body_is_shown_in_one_line(tmp_path):
    # v1 errors: {"Errors": {"description", "code"}} (unverified, §2.1).
    def refuse(request: RecordedRequest) -> Response:
        body = {"Errors": {"description": "invalid_authentication", "code": 401}}
        return json_response(401, body, "application/json")

    with FakeScim([], [], base_path="/scim/v1", before_request=refuse) as server:
        result = run_cli(
            "--service-provider=slack-v1",
            f"--token={TOKEN}",
            f"--api-endpoint={server.url}",
            f"--file={tmp_path / 'sync.c1z'}",
            "--log-level=warn",
        )

    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert "401: invalid_authentication" in lines[0]
    assert TOKEN not in result.output
