"""The postman provider against a server shaped like Postman's SCIM API.

Each quirk is named with its source in docs/providers.md (§2.4 unless said
otherwise): the SCIM API key sent as a bearer token, users without emails
(the userName is the address), no roles, 100 users per page by default,
``{"error": {"name", "message"}}`` error bodies, and its group PATCH.
"""

from __future__ import annotations

from typing import Any

import pytest
from baton_scim.errors import ProvisioningError
from baton_scim.provisioning import Change
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

API_KEY = "PMAK-scim-0123456789abcdef"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def postman_user(n: int) -> dict[str, Any]:
    """A team member as Postman lists it: no emails, no roles."""
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": f"{n:032x}",
        "userName": f"member{n}@example.com",
        "name": {"givenName": f"Given{n}", "familyName": f"Family{n}"},
        "externalId": f"ext-{n}",
        "active": n != 4,
        "meta": {
            "resourceType": "User",
            "created": "2022-02-22T04:24:13.000Z",
            "lastModified": "2022-02-22T04:24:13.000Z",
        },
    }


def postman_group(gid: str, name: str, members: list[int]) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": gid,
        "displayName": name,
        "externalId": f"ext-{gid}",
        "members": [
            {"value": f"{n:032x}", "display": f"member{n}@example.com"} for n in members
        ],
    }


GROUPS = [
    postman_group("561631fq14ed41872a8eea4c8aa2b38cda9749812cc55c00", "API", [1, 2]),
    postman_group("7b1d9e0c2f3a4b5c6d7e8f9012345678", "QA", [3]),
]


def postman_server(users: int = 5, **kwargs: Any) -> FakeScim:
    options: dict[str, Any] = {
        "base_path": "/scim/v2",
        "token": API_KEY,
        # "By default, the system returns a list of 100 users".
        "default_count": 100,
        "error_style": "postman",
        "content_type": "application/json",
    }
    options.update(kwargs)
    return FakeScim([postman_user(n) for n in range(1, users + 1)], GROUPS, **options)


def sync(server: FakeScim, out: Any, *credentials: str) -> Any:
    return run_cli(
        "--service-provider=postman",
        *(credentials or (f"--api-key={API_KEY}",)),
        f"--api-endpoint={server.url}",
        f"--file={out}",
        "--log-level=warn",
    )


# -- Sync --------------------------------------------------------------------


@pytest.fixture(scope="module")
def synced(tmp_path_factory):
    out = tmp_path_factory.mktemp("postman") / "sync.c1z"
    with postman_server(users=250) as server:
        result = sync(server, out)
        assert result.exit_code == 0, result.output
        yield list(server.requests), snapshot(out)


def test_sync_sends_the_scim_key_as_a_bearer_token(synced):
    requests, _ = synced

    assert sorted(sent(r) for r in requests) == [
        ("GET", "/scim/v2/Groups", "startIndex=1&count=100"),
        ("GET", "/scim/v2/Users", "startIndex=1&count=100"),
        ("GET", "/scim/v2/Users", "startIndex=101&count=100"),
        ("GET", "/scim/v2/Users", "startIndex=201&count=50"),
    ]
    for request in requests:
        # Bearer, as Microsoft Entra sends it (the Go connector sent the
        # raw key), and never Postman's X-Api-Key.
        assert request.header("Authorization") == f"Bearer {API_KEY}"
        assert request.header("X-Api-Key") is None
        assert request.header("Accept") == "application/json"


def test_users_without_emails_get_their_username_as_email(synced):
    _, snap = synced
    users = {r[1]: dict(r[3]) for r in snap["resources"] if r[0] == "user"}

    trait = users[f"{1:032x}"]
    assert dict(trait["emails"][0])["address"] == "member1@example.com"
    assert len(users) == 250


def test_no_roles_are_synced_and_memberships_are(synced):
    _, snap = synced
    kinds = {r[0] for r in snap["resources"]}
    memberships = {(g[3], g[5]) for g in snap["grants"] if g[2] == "group"}

    assert kinds == {"user", "group"}
    assert memberships == {
        (GROUPS[0]["id"], f"{1:032x}"),
        (GROUPS[0]["id"], f"{2:032x}"),
        (GROUPS[1]["id"], f"{3:032x}"),
    }


def test_token_flag_is_sent_as_a_bearer_token_too(tmp_path):
    with postman_server() as server:
        result = sync(server, tmp_path / "sync.c1z", f"--token={API_KEY}")

    assert result.exit_code == 0, result.output
    assert {r.header("Authorization") for r in server.requests} == {f"Bearer {API_KEY}"}


def test_wrong_key_gives_postmans_message_in_one_line(tmp_path):
    with postman_server() as server:
        result = sync(server, tmp_path / "sync.c1z", "--api-key=PMAK-wrong-key")

    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    # Postman: {"error": {"name": "Unauthorized", "message": ...}}.
    assert "answered 401: Authorization failure" in line
    assert "PMAK-wrong-key" not in result.output


# -- Provisioning ---------------------------------------------------------------


@pytest.fixture
def postman_writable():
    with postman_server() as server:
        yield server, prepare_provider("postman", server.url, api_key=API_KEY)


def test_add_member_is_a_patchop_add(postman_writable):
    server, context = postman_writable
    group = GROUPS[1]["id"]
    request = request_for(
        context, change(context, "add_user_to_group", f"{5:032x}", group_id=group)
    )

    assert (request.method, request.path, request.headers) == (
        "PATCH",
        f"Groups/{group}",
        {},
    )
    assert request.body == {
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "add", "path": "members", "value": [{"value": f"{5:032x}"}]}
        ],
    }
    assert send(context, request)[0] == 200
    patch = server.requests[-1]
    assert patch.header("Authorization") == f"Bearer {API_KEY}"
    assert patch.header("Content-Type") == "application/json"
    assert [m["value"] for m in server.groups[1]["members"]] == [
        f"{3:032x}",
        f"{5:032x}",
    ]


def test_remove_member_lists_the_one_member_to_remove(postman_writable):
    # The value-list form Microsoft Entra sends to Postman; never the Go
    # connector's replace of the whole member list.
    server, context = postman_writable
    group = GROUPS[0]["id"]
    request = request_for(
        context, change(context, "remove_user_from_group", f"{1:032x}", group_id=group)
    )

    assert (request.method, request.path) == ("PATCH", f"Groups/{group}")
    assert request.body == {
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "remove", "path": "members", "value": [{"value": f"{1:032x}"}]}
        ],
    }
    assert send(context, request)[0] == 200
    assert [m["value"] for m in server.groups[0]["members"]] == [f"{2:032x}"]


def test_description_has_no_roles_to_sync_or_provision(postman_writable):
    _, context = postman_writable
    provisioning = context.config.provisioning

    assert context.config.user.roles is None
    assert provisioning is not None
    assert provisioning.add_user_role is None
    assert provisioning.remove_user_role is None


def test_role_changes_are_refused_clearly(postman_writable):
    _, context = postman_writable
    # Borrow a group entry: the description has none for roles.
    assert context.config.provisioning is not None
    operation = context.config.provisioning.add_user_to_group
    for action in ("add_user_role", "remove_user_role"):
        role_change = Change(action, "u", operation, role=RoleRef("admin"))

        with pytest.raises(ProvisioningError, match="has no roles") as caught:
            request_for(context, role_change)
        assert "Postman's team settings" in (caught.value.hint or "")
