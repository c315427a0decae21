"""The test servers themselves: the real scim2-server, the seed and FakeScim."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.fake_scim import (
    GO_REFERENCE_DIRECTORY,
    ErrorStyle,
    FakeScim,
    Fault,
    RecordedRequest,
    Response,
    ScimError,
    apply_patch,
    drop_connection_once,
    html_error_page,
    huge_body,
    invalid_json,
    rate_limit,
    serve_page_twice,
    server_errors,
)
from tests.support.scim_server import (
    FaultMiddleware,
    RequestLog,
    ScimServer,
    SeededServer,
    create_group,
    create_user,
    plan_users,
)

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def patch_body(*operations: dict[str, Any]) -> dict[str, Any]:
    """Build a PatchOp body."""
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def list_all(client: httpx.Client, endpoint: str, count: int) -> list[dict[str, Any]]:
    """Read every page of a list, advancing by the number received."""
    found: list[dict[str, Any]] = []
    while True:
        params = {"startIndex": len(found) + 1, "count": count}
        body = client.get(endpoint, params=params).raise_for_status().json()
        found += body.get("Resources", [])
        if not body.get("Resources") or len(found) >= body["totalResults"]:
            return found


# -- The real scim2-server -----------------------------------------------------


def test_real_server_answers_a_bearer_authenticated_list(
    scim_server: ScimServer,
) -> None:
    with scim_server.client() as client:
        response = client.get("/Users", params={"startIndex": 1, "count": 10})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/scim+json")
    assert response.json()["totalResults"] == 0
    assert scim_server.url == f"http://127.0.0.1:{scim_server.port}/v2"


def test_real_server_refuses_a_wrong_token_with_401(scim_server: ScimServer) -> None:
    response = httpx.get(
        f"{scim_server.url}/Users", headers={"Authorization": "Bearer wrong"}
    )

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["status"] == "401"


def test_seeded_users_show_roles_and_inactive_users_in_lists(
    seeded_server: SeededServer,
) -> None:
    server, directory = seeded_server
    with server.client() as client:
        listed = {user["id"]: user for user in list_all(client, "/Users", 100)}

    assert len(listed) == len(directory.users) == 250
    assert {i for i, u in listed.items() if u["active"] is False} == (
        directory.inactive_ids
    )
    assert len(directory.inactive_ids) == 25
    for user in directory.users:
        assert listed[user["id"]].get("roles") == user.get("roles")
    assert directory.roles["admin"] == "Workspace Admin"
    assert len(directory.roles) == 6


def test_seeded_directory_has_the_awkward_cases(seeded_server: SeededServer) -> None:
    directory = seeded_server.directory
    first_emails = [user["emails"][0] for user in directory.users]
    sizes = [len(group.get("members", [])) for group in directory.groups]
    memberships = [
        m for g in directory.groups for m in directory.members_of(g["displayName"])
    ]

    assert any(email.get("primary") is False for email in first_emails)
    assert any("primary" not in email for email in first_emails)
    assert sizes[0] == 40 and sizes[-1] == 0 and max(sizes) <= 40
    assert len(memberships) > len(set(memberships))
    assert 70 <= sum(1 for user in directory.users if user.get("roles")) <= 90


def test_directory_plan_is_deterministic_for_a_seed() -> None:
    first = plan_users(random.Random(11), 30)
    again = plan_users(random.Random(11), 30)
    other = plan_users(random.Random(12), 30)

    assert first == again
    assert first != other
    assert len({user["userName"] for user in first}) == 30


def test_max_page_size_caps_pages_and_is_announced() -> None:
    with ScimServer("t", max_page_size=3) as server, server.client() as client:
        for n in range(5):
            create_user(client, f"user{n}", "Given", "Family", [(f"u{n}@x.test", True)])
        page = client.get("/Users", params={"count": 100}).json()
        config = client.get("/ServiceProviderConfig").json()

    assert page["totalResults"] == 5
    assert page["itemsPerPage"] == len(page["Resources"]) == 3
    assert config["pagination"]["maxPageSize"] == 3


def test_real_server_patch_and_etag_behaviour(scim_server: ScimServer) -> None:
    with scim_server.client() as client:
        user = create_user(client, "ann", "Ann", "Lee", roles=[{"value": "admin"}])
        group = create_group(client, "Ops", [user["id"]])
        url = f"/Groups/{group['id']}"
        by_filter = patch_body(
            {"op": "remove", "path": f'members[value eq "{user["id"]}"]'}
        )
        by_list = patch_body(
            {"op": "remove", "path": "members", "value": [{"value": user["id"]}]}
        )

        stale = client.patch(url, json=by_filter, headers={"If-Match": 'W/"999"'})
        removed = client.patch(url, json=by_filter)
        refused = client.patch(url, json=by_list)
        after = client.get(url).json()

    assert stale.status_code == 412
    assert removed.status_code == 204 and removed.headers["etag"].startswith('W/"')
    assert refused.status_code == 400
    assert "members" not in after


def test_request_log_records_each_request() -> None:
    log = RequestLog(headers=["Authorization", "Content-Type"])
    with ScimServer("t", app_wrapper=log.wrap) as server, server.client() as client:
        create_user(client, "bo", "Bo", "Ek")
        client.get("/Users", params={"startIndex": 1, "count": 2})

    post, get = log.entries
    assert (post.method, post.path, post.json["userName"]) == (
        "POST",
        "/v2/Users",
        "bo",
    )
    assert post.headers == {
        "authorization": "Bearer t",
        "content-type": "application/json",
    }
    assert (get.method, get.query_string) == ("GET", "startIndex=1&count=2")
    assert get.query == {"startIndex": "1", "count": "2"}
    assert log.count("GET", "/Users") == 1


def test_fault_middleware_puts_faults_in_front_of_the_real_server() -> None:
    faults = [
        rate_limit(1.0, retry_after="3", times=1),
        drop_connection_once("/Groups"),
    ]
    with (
        ScimServer("t", app_wrapper=lambda app: FaultMiddleware(app, faults)) as server,
        server.client() as client,
    ):
        limited = client.get("/Users")
        served = client.get("/Users")
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/Groups")
        after_drop = client.get("/Groups")

    assert limited.status_code == 429 and limited.headers["retry-after"] == "3"
    assert limited.json()["status"] == "429"
    assert served.status_code == after_drop.status_code == 200


# -- FakeScim ------------------------------------------------------------------


@pytest.fixture
def reference() -> Iterator[FakeScim]:
    """FakeScim serving the Go reference directory with a token."""
    if not GO_REFERENCE_DIRECTORY.exists():
        pytest.skip(f"{GO_REFERENCE_DIRECTORY} is not there")
    with FakeScim.from_file(token="ref-token") as fake:
        yield fake


def fake_client(fake: FakeScim, token: str | None = "ref-token") -> httpx.Client:
    """Return a client on a FakeScim, sending a token when given."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=fake.url, headers=headers, timeout=5)


def test_fake_pages_the_reference_directory_two_by_two(reference: FakeScim) -> None:
    with fake_client(reference) as client:
        first = client.get("/Users", params={"startIndex": 1, "count": 2}).json()
        users = list_all(client, "/Users", 2)

    assert reference.url.endswith("/scim/v2")
    assert first["totalResults"] == 7
    assert (first["itemsPerPage"], first["startIndex"]) == (2, 1)
    assert [user["id"] for user in users] == [user["id"] for user in reference.users]
    assert [r.query["startIndex"] for r in reference.requests[1:]] == [
        "1",
        "3",
        "5",
        "7",
    ]


def test_fake_patch_removes_a_member_by_value_filter(reference: FakeScim) -> None:
    operation = {"op": "remove", "path": 'members[value eq "u-bob"]'}
    with fake_client(reference) as client:
        before = client.get("/Groups/g-eng")
        patched = client.patch("/Groups/g-eng", json=patch_body(operation))
        stale = client.patch(
            "/Groups/g-eng",
            json=patch_body(operation),
            headers={"If-Match": before.headers["etag"]},
        )

    members = [member["value"] for member in patched.json()["members"]]
    assert patched.status_code == 200 and "u-bob" not in members and len(members) == 2
    assert patched.headers["etag"] != before.headers["etag"]
    assert stale.status_code == 412


def test_fake_patch_value_list_remove_role_add_and_204() -> None:
    users = [{"id": "u1", "userName": "a", "roles": [{"value": "admin"}]}]
    groups = [{"id": "g1", "displayName": "G", "members": [{"value": "u1"}]}]
    with FakeScim(users, groups, patch_status=204) as fake, fake_client(fake) as client:
        removed = client.patch(
            "/Groups/g1",
            json=patch_body(
                {"op": "remove", "path": "members", "value": [{"value": "u1"}]}
            ),
        )
        client.patch(
            "/Users/u1",
            json=patch_body(
                {"op": "Add", "path": "roles", "value": [{"value": "billing"}]},
                {"op": "remove", "path": 'roles[value eq "admin"]'},
            ),
        )

    assert removed.status_code == 204 and removed.content == b""
    assert "members" not in fake.groups[0]
    assert fake.users[0]["roles"] == [{"value": "billing"}]


ADMIN, GUEST = {"value": "admin", "display": "Admin"}, {"value": "guest"}
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCHED_USER: dict[str, Any] = {
    "schemas": [CORE_USER],
    "id": "u1",
    "name": {"givenName": "Ann"},
    "roles": [ADMIN, GUEST],
}


@pytest.mark.parametrize(
    ("operation", "attribute", "expected"),
    [
        (
            {"op": "replace", "path": "name.givenName", "value": "Bo"},
            "name",
            {"givenName": "Bo"},
        ),
        ({"op": "Replace", "value": {"active": False}}, "active", False),
        (
            {"op": "replace", "path": 'roles[value eq "admin"].display', "value": "B"},
            "roles",
            [{"value": "admin", "display": "B"}, GUEST],
        ),
        (
            {"op": "remove", "path": f'{CORE_USER}:roles[value eq "guest"]'},
            "roles",
            [ADMIN],
        ),
        ({"op": "remove", "path": "roles"}, "roles", None),
    ],
)
def test_fake_patch_operations(
    operation: dict[str, Any], attribute: str, expected: Any
) -> None:
    patched = apply_patch(PATCHED_USER, patch_body(operation))

    assert patched.get(attribute) == expected
    assert PATCHED_USER["roles"][1] == {"value": "guest"}


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "move", "path": "roles"},
        {"op": "remove"},
        {"op": "remove", "path": 'roles[value gt "a"]'},
        {"op": "replace", "path": 'roles[value eq "none"]', "value": {}},
    ],
)
def test_fake_patch_refuses_bad_operations(operation: dict[str, Any]) -> None:
    with pytest.raises(ScimError) as refused:
        apply_patch(PATCHED_USER, patch_body(operation))

    assert refused.value.status == 400


def test_fake_put_replaces_a_user_and_keeps_its_id() -> None:
    with FakeScim([{"id": "u1", "userName": "a"}]) as fake, fake_client(fake) as client:
        response = client.put("/Users/u1", json={"userName": "b", "active": False})

    assert response.json()["id"] == "u1"
    assert fake.users[0]["userName"] == "b"


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        ("scim", {"status": "401"}),
        ("zoom", {"code": 401}),
        ("postman", {"status": "error"}),
    ],
)
def test_fake_refuses_a_wrong_token_in_each_error_style(
    style: ErrorStyle, expected: dict[str, Any]
) -> None:
    with FakeScim(token="good", error_style=style) as fake:
        with fake_client(fake, token="bad") as client:
            response = client.get("/Users")
        config = httpx.get(f"{fake.url}/ServiceProviderConfig")

    assert response.status_code == 401
    assert expected.items() <= response.json().items()
    assert config.status_code == 200


def test_fake_paging_knobs() -> None:
    users = [{"id": f"u{n}", "userName": f"u{n}"} for n in range(5)]
    with (
        FakeScim(users, max_count=2, omit_paging_fields=True) as fake,
        fake_client(fake) as client,
    ):
        page = client.get("/Users", params={"count": 100}).json()

    assert len(page["Resources"]) == 2 and page["totalResults"] == 5
    assert "itemsPerPage" not in page and "startIndex" not in page


def test_fake_custom_auth_check_and_before_request_hook() -> None:
    def teapot(request: RecordedRequest) -> Response | None:
        return Response(418) if "teapot" in request.path else None

    with (
        FakeScim(
            auth_check=lambda h: h.get("x-api-key") == "k", before_request=teapot
        ) as fake,
        httpx.Client(base_url=fake.url, headers={"X-Api-Key": "k"}) as client,
    ):
        assert client.get("/Users").status_code == 200
        assert client.get("/teapot").status_code == 418
        assert httpx.get(f"{fake.url}/Users").status_code == 401
        assert len(fake.requests) == 3
        fake.reset_requests()
        assert fake.requests == []


# -- Fault helpers -------------------------------------------------------------


def statuses_under(fault: Fault, requests: int = 40) -> list[int]:
    """Send requests through a FakeScim with one fault; return the statuses."""
    with FakeScim(faults=[fault]) as fake, fake_client(fake) as client:
        return [client.get("/Users").status_code for _ in range(requests)]


def test_rate_limit_answers_429_to_a_seeded_fraction() -> None:
    statuses = statuses_under(rate_limit(0.5, seed=3))

    assert statuses == statuses_under(rate_limit(0.5, seed=3))
    assert 10 <= statuses.count(429) <= 30
    assert set(statuses) == {200, 429}


def test_rate_limit_sends_retry_after() -> None:
    with FakeScim(faults=[rate_limit(1.0, retry_after="7")]) as fake:
        response = httpx.get(f"{fake.url}/Users")

    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"


def test_server_errors_answer_gateway_statuses() -> None:
    statuses = statuses_under(server_errors(1.0, seed=5), requests=12)

    assert set(statuses) <= {502, 503, 504} and len(set(statuses)) > 1


def test_drop_connection_once_closes_the_first_matching_request() -> None:
    with FakeScim(faults=[drop_connection_once("/Users")]) as fake:
        with fake_client(fake) as client, pytest.raises(httpx.RemoteProtocolError):
            client.get("/Users")
        with fake_client(fake) as client:
            assert client.get("/Users").status_code == 200


def test_serve_page_twice_repeats_the_previous_page() -> None:
    users = [{"id": f"u{n}", "userName": f"u{n}"} for n in range(6)]
    with FakeScim(users, faults=[serve_page_twice()]) as fake, fake_client(fake) as c:
        pages = [
            c.get("/Users", params={"startIndex": s, "count": 2}).json()
            for s in (1, 3, 3)
        ]

    assert pages[1] == pages[0]
    assert [u["id"] for u in pages[2]["Resources"]] == ["u2", "u3"]


def test_invalid_json_answers_a_truncated_body() -> None:
    with FakeScim(faults=[invalid_json()]) as fake, fake_client(fake) as client:
        broken, fine = client.get("/Users"), client.get("/Users")

    assert broken.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        broken.json()
    assert fine.json()["totalResults"] == 0


def test_html_error_page_answers_200_with_html() -> None:
    with FakeScim(faults=[html_error_page()]) as fake:
        response = httpx.get(f"{fake.url}/Users")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


def test_huge_body_answers_a_valid_padded_list() -> None:
    with FakeScim(faults=[huge_body(2_000_000)]) as fake:
        response = httpx.get(f"{fake.url}/Users")

    assert len(response.content) >= 2_000_000
    assert response.json()["totalResults"] == 0
