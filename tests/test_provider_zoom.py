"""The zoom provider against a server shaped like Zoom's SCIM2 API.

Each quirk is named with its source in docs/providers.md (§2.2 unless said
otherwise): Server-to-Server OAuth with ``account_credentials``, tokens of
an hour without refresh token, groups without members (users name their
groups), ``{"code", "message"}`` errors, ``Retry-After`` as a timestamp,
user IDs holding ``&``, and a PUT of only the attributes that change.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from baton_scim.errors import ProvisioningError, ServiceError
from baton_scim.http import ScimClient
from baton_scim.records import RoleRef

from tests.support.cli import run_cli
from tests.support.fake_scim import (
    CannedFault,
    FakeScim,
    RecordedRequest,
    Response,
    json_response,
    rate_limit,
)
from tests.support.provider_fakes import (
    TokenEndpoint,
    change,
    prepare_provider,
    request_for,
    send,
    sent,
)
from tests.support.snapshot import snapshot

CLIENT_ID = "zoom-client-id"
CLIENT_SECRET = "zoom-client-secret-value"
ACCOUNT_ID = "acct-Xy12"
API_KEY = "zoom-access-token-given-directly"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
# Zoom's documented example of an ID: it must be escaped in a path.
ODD_ID = "k&KdKr6TLWuxdDtk0hjSzL"


def zoom_user(uid: str, n: int, groups: list[str], role: str) -> dict[str, Any]:
    """A user as Zoom's SCIM2 API describes it, groups by display name only."""
    return {
        "schemas": [USER_SCHEMA, "urn:us:zoom:scim:schemas:extension:1.0:ZoomUser"],
        "id": uid,
        "userName": f"user{n}@example.com",
        "name": {"givenName": f"Given{n}", "familyName": f"Family{n}"},
        "displayName": f"Given{n} Family{n}",
        "emails": [{"type": "work", "value": f"user{n}@example.com", "primary": True}],
        "active": n != 3,
        "userType": "Licensed",
        "roles": [{"display": role, "value": role, "primary": True}],
        "groups": [
            {"display": g, "type": "direct", "primary": "false"} for g in groups
        ],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "department": "Sales"
        },
        "meta": {"resourceType": "User", "version": 'W/"7"'},
    }


def zoom_group(gid: str, name: str) -> dict[str, Any]:
    """A group as Zoom lists it: no members (hence groups on users)."""
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": gid,
        "displayName": name,
        "urn:ietf:params:scim:schemas:extension:zoom:2.0:Group": {
            "emailAlias": f"{name.lower()}@example.com"
        },
    }


USERS = [
    zoom_user(ODD_ID, 1, ["Sales", "Support"], "Admin"),
    zoom_user("aB2cD3eF4gH5iJ6kL7mN8o", 2, ["Sales"], "Member"),
    zoom_user("pQ9rS0tU1vW2xY3zA4bC5d", 3, [], "Member"),
    zoom_user("e&F6gH7iJ8kL9mN0oP1qR2", 4, ["Support"], "Owner"),
]
GROUPS = [zoom_group("gSales001", "Sales"), zoom_group("gSupport02", "Support")]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def right_client(request: RecordedRequest) -> bool:
    return request.header("Authorization") == basic(CLIENT_ID, CLIENT_SECRET)


def zoom_server(endpoint: TokenEndpoint | None = None, **kwargs: Any) -> FakeScim:
    """Zoom's shapes; accepts the tokens ``endpoint`` issued, or ``token``."""
    options: dict[str, Any] = {
        "base_path": "/scim2",
        "error_style": "zoom",
        "content_type": "application/json",
    }
    if endpoint is not None:
        issued = endpoint.issued
        options["auth_check"] = lambda headers: (
            headers.get("authorization") in {f"Bearer {token}" for token in issued}
        )
    options.update(kwargs)
    return FakeScim(USERS, GROUPS, **options)


def s2s_flags(server: FakeScim, endpoint: TokenEndpoint, out: Path) -> list[str]:
    return [
        f"--scim-client-id={CLIENT_ID}",
        f"--scim-client-secret={CLIENT_SECRET}",
        f"--account-id={ACCOUNT_ID}",
        "--service-provider=zoom",
        f"--api-endpoint={server.url}",
        f"--auth-url={endpoint.url}",
        f"--file={out}",
    ]


# -- Sync with Server-to-Server OAuth -----------------------------------------


@pytest.fixture(scope="module")
def s2s_sync(tmp_path_factory):
    out = tmp_path_factory.mktemp("zoom") / "sync.c1z"
    with (
        TokenEndpoint("zoom-token", accept=right_client) as endpoint,
        zoom_server(endpoint) as server,
    ):
        result = run_cli(*s2s_flags(server, endpoint, out))
        yield result, endpoint, list(server.requests), snapshot(out)


def test_token_request_is_zooms_account_credentials_grant(s2s_sync):
    result, endpoint, _, _ = s2s_sync
    assert result.exit_code == 0, result.output

    # POST .../oauth/token?grant_type=account_credentials&account_id=...
    # with the client ID and secret as Basic authentication, no body.
    [token_request] = endpoint.requests
    assert token_request.method == "POST"
    assert token_request.path == "/oauth/token"
    assert token_request.query == {
        "grant_type": "account_credentials",
        "account_id": ACCOUNT_ID,
    }
    assert token_request.header("Authorization") == basic(CLIENT_ID, CLIENT_SECRET)
    assert token_request.body == b""
    assert CLIENT_SECRET not in result.output


def test_sync_lists_groups_then_users_with_the_obtained_token(s2s_sync):
    _, _, requests, _ = s2s_sync

    # Users name their groups, so groups are listed first to resolve them.
    assert [sent(r) for r in requests] == [
        ("GET", "/scim2/Groups", "startIndex=1&count=100"),
        ("GET", "/scim2/Users", "startIndex=1&count=100"),
    ]
    for request in requests:
        assert request.header("Authorization") == "Bearer zoom-token-1"
        assert request.header("Accept") == "application/scim+json"
        assert request.body == b""


def test_group_memberships_come_from_the_user_objects(s2s_sync):
    _, _, _, snap = s2s_sync
    memberships = {(g[3], g[5]) for g in snap["grants"] if g[2] == "group"}
    roles = {(g[3], g[5]) for g in snap["grants"] if g[2] == "role"}

    assert memberships == {
        ("gSales001", ODD_ID),
        ("gSupport02", ODD_ID),
        ("gSales001", "aB2cD3eF4gH5iJ6kL7mN8o"),
        ("gSupport02", "e&F6gH7iJ8kL9mN0oP1qR2"),
    }
    assert roles == {
        ("admin", ODD_ID),
        ("member", "aB2cD3eF4gH5iJ6kL7mN8o"),
        ("member", "pQ9rS0tU1vW2xY3zA4bC5d"),
        ("owner", "e&F6gH7iJ8kL9mN0oP1qR2"),
    }


def test_guide_environment_variables_obtain_a_token(tmp_path):
    with (
        TokenEndpoint("zoom-token", accept=right_client) as endpoint,
        zoom_server(endpoint) as server,
    ):
        env = {
            "BATON_SCIM_CLIENT_ID": CLIENT_ID,
            "BATON_SCIM_CLIENT_SECRET": CLIENT_SECRET,
            "BATON_ACCOUNT_ID": ACCOUNT_ID,
            "BATON_SERVICE_PROVIDER": "zoom",
            "BATON_API_ENDPOINT": server.url,
            "BATON_AUTH_URL": endpoint.url,
            "BATON_FILE": str(tmp_path / "sync.c1z"),
        }
        result = run_cli(env=env)

    assert result.exit_code == 0, result.output
    assert endpoint.issued == ["zoom-token-1"]
    assert endpoint.requests[0].query["account_id"] == ACCOUNT_ID


def test_client_credentials_without_account_id_are_refused_up_front(tmp_path):
    with TokenEndpoint("zoom-token") as endpoint, zoom_server(endpoint) as server:
        flags = s2s_flags(server, endpoint, tmp_path / "sync.c1z")
        flags.remove(f"--account-id={ACCOUNT_ID}")
        result = run_cli(*flags)

    assert result.exit_code == 2
    assert result.stderr.count("error:") == 1
    assert "--account-id" in result.stderr
    assert endpoint.requests == []
    assert server.requests == []


# -- A token given directly ---------------------------------------------------


def test_guide_api_key_flag_is_used_as_bearer_token(tmp_path):
    with TokenEndpoint("zoom-token") as endpoint, zoom_server(token=API_KEY) as server:
        result = run_cli(
            f"--api-key={API_KEY}",
            "--service-provider=zoom",
            f"--api-endpoint={server.url}",
            f"--auth-url={endpoint.url}",
            f"--file={tmp_path / 'sync.c1z'}",
        )

    assert result.exit_code == 0, result.output
    assert endpoint.requests == []
    assert {r.header("Authorization") for r in server.requests} == {f"Bearer {API_KEY}"}


def test_guide_api_key_environment_variable_is_used_as_bearer_token(tmp_path):
    with zoom_server(token=API_KEY) as server:
        env = {
            "BATON_API_KEY": API_KEY,
            "BATON_SERVICE_PROVIDER": "zoom",
            "BATON_API_ENDPOINT": server.url,
            "BATON_FILE": str(tmp_path / "sync.c1z"),
        }
        result = run_cli(env=env)

    assert result.exit_code == 0, result.output
    assert len(server.requests) == 2


# -- Token renewal --------------------------------------------------------------


def test_a_401_obtains_a_new_token_once_and_repeats_the_request(tmp_path):
    # A token dies early when another client of the app asks for one
    # (SailPoint's note on Zoom); Zoom answers {"code": 124, ...}.
    def invalid_token(_: RecordedRequest) -> Response:
        body = {"code": 124, "message": "Invalid access token."}
        return json_response(401, body, "application/json")

    expired = CannedFault(invalid_token, path_contains="/Users", times=1)
    with (
        TokenEndpoint("zoom-token", accept=right_client) as endpoint,
        zoom_server(endpoint, faults=[expired]) as server,
    ):
        result = run_cli(*s2s_flags(server, endpoint, tmp_path / "sync.c1z"))

    assert result.exit_code == 0, result.output
    assert endpoint.issued == ["zoom-token-1", "zoom-token-2"]
    users = [r for r in server.requests if r.path == "/scim2/Users"]
    assert [r.header("Authorization") for r in users] == [
        "Bearer zoom-token-1",
        "Bearer zoom-token-2",
    ]


class Clock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 5000.0

    def monotonic(self) -> float:
        return self.now


def test_token_is_renewed_before_its_hour_ends():
    # Zoom's tokens live 3600 s with no refresh token: obtain a new one
    # before the hour is up, so no request carries a dying token.
    clock = Clock()
    with (
        TokenEndpoint("zoom-token", accept=right_client) as endpoint,
        zoom_server(endpoint) as server,
    ):
        context = prepare_provider(
            "zoom",
            server.url,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            account_id=ACCOUNT_ID,
            auth_url=endpoint.url,
        )
        # The auth flow reads a monotonic clock; this one moves when told.
        context.options["auth"]._clock = clock.monotonic
        asyncio.run(_list_at(context, clock, [0, 3299, 2]))

    assert [r.header("Authorization") for r in server.requests] == [
        "Bearer zoom-token-1",
        "Bearer zoom-token-1",
        "Bearer zoom-token-2",
    ]


async def _list_at(context: Any, clock: Clock, steps: list[float]) -> None:
    async with ScimClient(context, context.options["auth"]) as client:
        for seconds in steps:
            clock.now += seconds
            await client.get_json("Users", {"startIndex": "1", "count": "1"})


# -- Limits and errors ----------------------------------------------------------


def test_retry_after_given_as_a_timestamp_is_honoured(tmp_path):
    # Zoom documents Retry-After as a timestamp for its daily limits, e.g.
    # 2020-05-31T00:00:00Z; one in the past means "now".
    limited = rate_limit(
        1.0, retry_after="2020-05-31T00:00:00Z", path_contains="/Users", times=1
    )
    with zoom_server(token=API_KEY, faults=[limited]) as server:
        result = run_cli(
            f"--api-key={API_KEY}",
            "--service-provider=zoom",
            f"--api-endpoint={server.url}",
            f"--file={tmp_path / 'sync.c1z'}",
            "--log-level=info",
        )

    assert result.exit_code == 0, result.output
    assert "retrying GET /scim2/Users?startIndex=1&count=100 in 0.0s" in result.stderr
    assert len([r for r in server.requests if r.path == "/scim2/Users"]) == 2


def test_zoom_error_body_message_is_shown_in_one_line(tmp_path):
    # Zoom errors are {"code", "message"} (secondary source, §2.2).
    def refuse(_: RecordedRequest) -> Response:
        message = "The current filter does not support the filter name: x"
        return json_response(400, {"code": 400, "message": message})

    bad = CannedFault(refuse, path_contains="/Groups")
    with zoom_server(token=API_KEY, faults=[bad]) as server:
        result = run_cli(
            f"--api-key={API_KEY}",
            "--service-provider=zoom",
            f"--api-endpoint={server.url}",
            f"--file={tmp_path / 'sync.c1z'}",
            "--log-level=warn",
        )

    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: GET /scim2/Groups")
    assert "400: The current filter does not support the filter name: x" in line
    assert not (tmp_path / "sync.c1z").exists()


def test_zoom_own_error_codes_are_kept_beside_the_message():
    context = prepare_provider("zoom", "https://api.zoom.us/scim2/", token=API_KEY)
    detail = context.hook.baton_scim_error_detail

    body = {"code": 1001, "message": "User does not exist: x@example.com"}
    assert detail(provider=context, status=404, body=body) == (
        "User does not exist: x@example.com (Zoom error code 1001)"
    )
    same = {"code": 429, "message": "Too Many Requests"}
    assert detail(provider=context, status=429, body=same) == "Too Many Requests"


# -- Provisioning ------------------------------------------------------------------


def zoom_partial_put(holder: list[FakeScim]):
    """PUT /Users/{id} as Zoom documents it: only the attributes sent change.

    Zoom's reference: "include only the parameters you want to update and
    the required schemas parameter". If-Match is checked against
    ``meta.version`` (RFC 7644 §3.14).
    """

    def handle(request: RecordedRequest) -> Response | None:
        if request.method != "PUT":
            return None
        user_id = unquote(request.path.rsplit("/", 1)[1])
        user = next(u for u in holder[0].users if u["id"] == user_id)
        expected = request.header("If-Match")
        if expected is not None and expected != user["meta"]["version"]:
            return Response.error_reply(412, "The user changed meanwhile")
        for key, value in request.json.items():
            if key != "schemas":
                user[key] = value
        user["meta"]["version"] = 'W/"8"'
        return json_response(200, user, "application/json")

    return handle


@pytest.fixture
def zoom_writable():
    holder: list[FakeScim] = []
    server = zoom_server(token=API_KEY, before_request=zoom_partial_put(holder))
    holder.append(server)
    with server:
        yield server, prepare_provider("zoom", server.url, api_key=API_KEY)


def test_add_member_is_a_patchop_add_to_the_group(zoom_writable):
    server, context = zoom_writable
    request = request_for(
        context, change(context, "add_user_to_group", ODD_ID, group_id="gSales001")
    )

    assert (request.method, request.path, request.headers) == (
        "PATCH",
        "Groups/gSales001",
        {},
    )
    assert request.body == {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": ODD_ID}]}],
    }
    assert send(context, request)[0] == 200
    assert server.groups[0]["members"] == [{"value": ODD_ID}]
    assert server.requests[-1].header("Accept") == "application/scim+json"
    assert server.requests[-1].header("Content-Type") == "application/scim+json"


def test_remove_member_filters_on_the_one_member(zoom_writable):
    _, context = zoom_writable
    request = request_for(
        context,
        change(context, "remove_user_from_group", ODD_ID, group_id="gSupport02"),
    )

    assert (request.method, request.path) == ("PATCH", "Groups/gSupport02")
    assert request.body == {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "remove", "path": f'members[value eq "{ODD_ID}"]'}],
    }


def test_grant_role_puts_the_one_role_with_the_user_id_escaped(zoom_writable):
    server, context = zoom_writable
    user = server.users[1]
    grant = change(
        context,
        "add_user_role",
        user["id"],
        role=RoleRef("Admin", "Admin"),
        current=user,
        version='W/"7"',
    )
    request = request_for(context, grant)

    assert request.method == "PUT"
    assert request.path == "Users/aB2cD3eF4gH5iJ6kL7mN8o"
    assert request.headers == {"If-Match": 'W/"7"'}
    assert request.body == {
        "schemas": [USER_SCHEMA],
        "roles": [{"value": "Admin", "display": "Admin", "primary": True}],
    }
    assert send(context, request)[0] == 200
    assert user["roles"] == [{"value": "Admin", "display": "Admin", "primary": True}]
    assert user["groups"] == [
        {"display": "Sales", "type": "direct", "primary": "false"}
    ]


def test_revoke_role_puts_back_the_other_roles_under_if_match(zoom_writable):
    server, context = zoom_writable
    user = server.users[0]
    user["roles"].append({"display": "Webinar", "value": "Webinar"})
    revoke = change(
        context,
        "remove_user_role",
        ODD_ID,
        role=RoleRef("Admin", "Admin"),
        current=user,
        version='W/"7"',
    )
    request = request_for(context, revoke)

    assert (request.method, request.path) == ("PUT", "Users/k%26KdKr6TLWuxdDtk0hjSzL")
    assert request.headers == {"If-Match": 'W/"7"'}
    assert request.body == {
        "schemas": [USER_SCHEMA],
        "roles": [{"display": "Webinar", "value": "Webinar"}],
    }
    assert send(context, request)[0] == 200
    assert server.requests[-1].path == "/scim2/Users/k%26KdKr6TLWuxdDtk0hjSzL"
    assert user["roles"] == [{"display": "Webinar", "value": "Webinar"}]


def test_revoke_role_on_a_changed_user_is_refused_by_zoom_with_412(zoom_writable):
    server, context = zoom_writable
    stale = change(
        context,
        "remove_user_role",
        ODD_ID,
        role=RoleRef("Admin"),
        current=server.users[0],
        version='W/"6"',
    )

    with pytest.raises(ServiceError, match="412") as caught:
        send(context, request_for(context, stale))
    assert caught.value.status == 412
    assert server.users[0]["roles"][0]["value"] == "Admin"


def test_revoke_role_without_the_users_current_roles_is_refused(zoom_writable):
    _, context = zoom_writable
    blind = change(
        context, "remove_user_role", ODD_ID, role=RoleRef("Admin"), version='W/"7"'
    )

    with pytest.raises(ProvisioningError, match="current roles were not read"):
        request_for(context, blind)


def test_role_put_without_a_version_is_refused_unless_accepted(zoom_writable):
    # Rewriting the roles without If-Match could undo a concurrent change.
    server, context = zoom_writable
    grant = change(
        context, "add_user_role", ODD_ID, role=RoleRef("Admin"), current=server.users[0]
    )

    with pytest.raises(ProvisioningError, match="no version") as caught:
        request_for(context, grant)
    assert "acceptUnversionedReplace" in (caught.value.hint or "")

    accepted = grant.operation.model_copy(update={"accept_unversioned_replace": True})
    request = request_for(context, dataclasses.replace(grant, operation=accepted))
    assert (request.method, request.headers) == ("PUT", {})


def test_go_connector_role_shape_is_one_setting_away(zoom_writable):
    # The Go connector PUTs {"schemas": [ListResponse], "Operations": [...]}
    # (§1.3, unverified): selecting that schema sends its shape.
    _, context = zoom_writable
    grant = change(
        context, "add_user_role", ODD_ID, role=RoleRef("Admin"), version='W/"7"'
    )
    operation = grant.operation.model_copy(update={"schemas": LIST_RESPONSE})
    request = request_for(context, dataclasses.replace(grant, operation=operation))

    assert (request.method, request.path) == ("PUT", "Users/k%26KdKr6TLWuxdDtk0hjSzL")
    assert request.body == {
        "schemas": [LIST_RESPONSE],
        "Operations": [{"display": "Admin", "value": "Admin"}],
    }


def test_patch_role_shape_is_one_setting_away(zoom_writable):
    _, context = zoom_writable
    revoke = change(context, "remove_user_role", ODD_ID, role=RoleRef("Admin"))
    operation = revoke.operation.model_copy(
        update={"method": "PATCH", "schemas": PATCH_OP}
    )
    request = request_for(context, dataclasses.replace(revoke, operation=operation))

    assert (request.method, request.path) == ("PATCH", "Users/k%26KdKr6TLWuxdDtk0hjSzL")
    assert request.body == {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "remove", "path": 'roles[value eq "Admin"]'}],
    }
