"""Zoom end to end: a sync, then every change through ``-p``.

A module-scoped fixture syncs a small Zoom-shaped account through the
command line with Server-to-Server OAuth; each test then runs one change
with Baton's one-shot flags against a fresh token endpoint and server
holding the same account, and checks the exact requests (the token request
included), the account afterwards, the one stdout line and that the c1z
file was only read.

Quirks reproduced, with their sources (docs/providers.md §2.2):

- Server-to-Server OAuth: ``POST /oauth/token?grant_type=account_credentials
  &account_id=...`` with the client as Basic authentication, no body
  (developers.zoom.us, internal apps: S2S OAuth);
- ``Accept: application/scim+json`` (developers.zoom.us/docs/api/scim2);
- groups listed without members, each user naming its groups by display
  name (scim2 list example; the Go connector reads groups from users), so a
  membership change shows on the user;
- user IDs holding ``&`` (``k&KdKr6TLWuxdDtk0hjSzL``), escaped in paths
  (Zoom API reference);
- one role per user, changed with ``PUT /Users/{id}`` carrying only the
  attributes to change (Zoom API reference; dev forum), under ``If-Match``;
- ``{"code", "message"}`` error bodies (secondary source).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote

import pytest

from tests.support.fake_scim import (
    FakeScim,
    RecordedRequest,
    Reply,
    Response,
    apply_patch,
    first_reply,
    json_response,
)
from tests.support.provider_e2e import (
    ProviderCli,
    Sent,
    assert_changed,
    assert_failed,
    listed,
    patch_op,
)
from tests.support.provider_fakes import TokenEndpoint
from tests.test_provider_zoom import (
    ACCOUNT_ID,
    CLIENT_ID,
    CLIENT_SECRET,
    ODD_ID,
    USER_SCHEMA,
    basic,
    right_client,
    zoom_partial_put,
    zoom_server,
)

SCIM = "application/scim+json"
ESCAPED = "k%26KdKr6TLWuxdDtk0hjSzL"
MEMBER_2 = "aB2cD3eF4gH5iJ6kL7mN8o"
MEMBER_3 = "pQ9rS0tU1vW2xY3zA4bC5d"
OWNER_4 = "e&F6gH7iJ8kL9mN0oP1qR2"
READ = {"authorization": "Bearer zoom-token-1", "accept": SCIM}
WRITE = {**READ, "content-type": SCIM}

Hook = Callable[[RecordedRequest], Reply]


def zoom_membership_patch(holder: list[FakeScim]) -> Hook:
    """Apply a group PATCH where Zoom shows it: in the users' ``groups``.

    Zoom lists groups without members and users with their groups by
    display name (§2.2), so the PatchOp is applied to the group's members
    as the users name them, and each user that joins or leaves gets its
    ``groups`` entry added or taken out; no other user is touched.
    """

    def handle(request: RecordedRequest) -> Response | None:
        if request.method != "PATCH" or "/Groups/" not in request.path:
            return None
        server = holder[0]
        group_id = unquote(request.path.rsplit("/", 1)[1])
        group = next(g for g in server.groups if g["id"] == group_id)
        name = group["displayName"]
        before = {u["id"] for u in server.users if name in group_names(u)}
        items = [{"value": uid} for uid in sorted(before)]
        members = {"schemas": group["schemas"], "members": items}

        patched = apply_patch(members, request.json).get("members", [])
        after = {member["value"] for member in patched}

        for user in server.users:
            if user["id"] in after - before:
                entry = {"display": name, "type": "direct", "primary": "false"}
                user["groups"].append(entry)
            if user["id"] in before - after:
                user["groups"] = [g for g in user["groups"] if g["display"] != name]
        return Response(204)

    return handle


def group_names(user: dict[str, Any]) -> list[str]:
    return [group["display"] for group in user.get("groups") or []]


def memberships(server: FakeScim) -> dict[str, list[str]]:
    return {user["id"]: group_names(user) for user in server.users}


class Zoom:
    """A Zoom account: its token endpoint and its SCIM2 API, both on 127.0.0.1.

    ``first`` hooks see each request before Zoom's own handling (a test's
    interference: a concurrent change, an error answer).
    """

    def __init__(self, *first: Hook) -> None:
        self.tokens = TokenEndpoint("zoom-token", accept=right_client)
        holder: list[FakeScim] = []
        hooks = [*first, zoom_membership_patch(holder), zoom_partial_put(holder)]
        self.api = zoom_server(
            self.tokens, before_request=lambda request: first_reply(hooks, request)
        )
        holder.append(self.api)

    def __enter__(self) -> Zoom:
        self.tokens.__enter__()
        self.api.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.api.__exit__(*exc_info)
        self.tokens.__exit__(*exc_info)


def zoom_cli(zoom: Zoom, file: Any) -> ProviderCli:
    credentials = (
        f"--scim-client-id={CLIENT_ID}",
        f"--scim-client-secret={CLIENT_SECRET}",
        f"--account-id={ACCOUNT_ID}",
    )
    return ProviderCli("zoom", credentials, file, (f"--auth-url={zoom.tokens.url}",))


@pytest.fixture(scope="module")
def c1z(tmp_path_factory):
    file = tmp_path_factory.mktemp("zoom") / "sync.c1z"
    with Zoom() as zoom:
        result = zoom_cli(zoom, file).sync(zoom.api)

    assert result.exit_code == 0, result.output
    # Users name their groups, so the groups are listed first.
    assert [(r.method, r.path, r.query_string) for r in zoom.api.requests] == [
        ("GET", "/scim2/Groups", "startIndex=1&count=100"),
        ("GET", "/scim2/Users", "startIndex=1&count=100"),
    ]
    return file


@pytest.fixture
def zoom(c1z) -> Iterator[tuple[Zoom, ProviderCli]]:
    with Zoom() as account:
        yield account, zoom_cli(account, c1z)


def get(path: str) -> Sent:
    return Sent("GET", f"/scim2/{path}", "", READ)


def write(method: str, path: str, body: Any, **headers: str) -> Sent:
    extra = {name.replace("_", "-"): value for name, value in headers.items()}
    return Sent(method, f"/scim2/{path}", "", {**WRITE, **extra}, body)


def test_zoom_grant_membership_obtains_a_token_and_adds_the_member(zoom):
    account, cli = zoom
    before = memberships(account.api)

    run = cli.grant(account.api, "group:gSales001:member", MEMBER_3)

    assert_changed(run, f"granted group:gSales001:member to user:{MEMBER_3}")
    [token] = account.tokens.requests
    assert (token.method, token.path, token.body) == ("POST", "/oauth/token", b"")
    assert token.query == {
        "grant_type": "account_credentials",
        "account_id": ACCOUNT_ID,
    }
    assert token.header("Authorization") == basic(CLIENT_ID, CLIENT_SECRET)
    # The group lists no members: whether the user is in it is read on the user.
    assert run.sent == [
        get("Groups/gSales001"),
        get(f"Users/{MEMBER_3}"),
        write(
            "PATCH",
            "Groups/gSales001",
            patch_op({"op": "add", "path": "members", "value": [{"value": MEMBER_3}]}),
        ),
    ]
    assert memberships(account.api) == {**before, MEMBER_3: ["Sales"]}
    assert CLIENT_SECRET not in run.result.output


def test_zoom_revoke_membership_escapes_the_id_and_filters_on_it(zoom):
    account, cli = zoom
    before = memberships(account.api)

    run = cli.revoke(account.api, f"group:gSupport02:member:user:{ODD_ID}")

    assert_changed(run, f"revoked group:gSupport02:member from user:{ODD_ID}")
    assert run.sent == [
        get("Groups/gSupport02"),
        get(f"Users/{ESCAPED}"),
        write(
            "PATCH",
            "Groups/gSupport02",
            patch_op({"op": "remove", "path": f'members[value eq "{ODD_ID}"]'}),
        ),
    ]
    assert memberships(account.api) == {**before, ODD_ID: ["Sales"]}


def test_zoom_grant_role_puts_the_one_role_under_if_match(zoom):
    account, cli = zoom
    before = listed(account.api.users, "roles")

    run = cli.grant(account.api, "role:admin:member", MEMBER_2)

    # "admin" is the c1z's role ID; its value "Admin" is read on a holder.
    # A Zoom user holds one role, so the new one takes the Member's place.
    assert_changed(run, f"granted role:admin:member to user:{MEMBER_2}")
    role = {"value": "Admin", "display": "Admin", "primary": True}
    assert run.sent == [
        get(f"Users/{MEMBER_2}"),
        get(f"Users/{ESCAPED}"),
        write(
            "PUT",
            f"Users/{MEMBER_2}",
            {"schemas": [USER_SCHEMA], "roles": [role]},
            if_match='W/"7"',
        ),
    ]
    assert listed(account.api.users, "roles") == {**before, MEMBER_2: ["Admin"]}
    user = next(u for u in account.api.users if u["id"] == MEMBER_2)
    assert group_names(user) == ["Sales"]


def test_zoom_revoke_role_puts_back_the_roles_left_under_if_match(zoom):
    account, cli = zoom
    before = listed(account.api.users, "roles")

    run = cli.revoke(account.api, f"role:owner:member:user:{OWNER_4}")

    assert_changed(run, f"revoked role:owner:member from user:{OWNER_4}")
    assert run.sent == [
        get(f"Users/{OWNER_4.replace('&', '%26')}"),
        write(
            "PUT",
            f"Users/{OWNER_4.replace('&', '%26')}",
            {"schemas": [USER_SCHEMA], "roles": []},
            if_match='W/"7"',
        ),
    ]
    assert listed(account.api.users, "roles") == {**before, OWNER_4: []}


def test_zoom_role_put_refused_412_is_rebuilt_on_the_new_version(c1z):
    # Someone changes the user between our read and our PUT: Zoom refuses
    # the stale If-Match (RFC 7644 §3.14), the user is read again and the
    # PUT sent once more on the new version, with the roles as they are now.
    def meanwhile(request: RecordedRequest) -> Reply:
        if request.method == "PUT" and not changed:
            user = next(u for u in account.api.users if u["id"] == OWNER_4)
            user["meta"]["version"] = 'W/"9"'
            changed.append(user["id"])
        return None

    changed: list[str] = []
    escaped = OWNER_4.replace("&", "%26")
    with Zoom(meanwhile) as account:
        before = listed(account.api.users, "roles")
        run = zoom_cli(account, c1z).revoke(
            account.api, f"role:owner:member:user:{OWNER_4}"
        )

    assert_changed(run, f"revoked role:owner:member from user:{OWNER_4}")
    put = {"schemas": [USER_SCHEMA], "roles": []}
    assert run.sent == [
        get(f"Users/{escaped}"),
        write("PUT", f"Users/{escaped}", put, if_match='W/"7"'),
        get(f"Users/{escaped}"),
        write("PUT", f"Users/{escaped}", put, if_match='W/"9"'),
    ]
    assert listed(account.api.users, "roles") == {**before, OWNER_4: []}


def test_zoom_error_body_and_code_are_shown_in_one_line(c1z):
    # Zoom's errors are {"code", "message"}, the code often its own number
    # (§2.2, secondary): the message and that number reach the error line.
    def gone(request: RecordedRequest) -> Reply:
        if request.method != "PUT":
            return None
        body = {"code": 1001, "message": "User does not exist: user2@example.com"}
        return json_response(404, body, "application/json")

    with Zoom(gone) as account:
        before = listed(account.api.users, "roles")
        run = zoom_cli(account, c1z).grant(account.api, "role:owner:member", MEMBER_2)

    line = assert_failed(
        run,
        1,
        f"cannot grant role:owner:member to user:{MEMBER_2}",
        "404: User does not exist: user2@example.com (Zoom error code 1001)",
        "the user is no longer in the service",
    )
    assert CLIENT_SECRET not in line
    assert [s.method for s in run.sent] == ["GET", "GET", "PUT"]
    assert listed(account.api.users, "roles") == before
