"""Hostile bodies: one clear line naming the request, or a certain coercion.

What the bodies stand for (docs providers.md): a cut-off answer, an SSO
portal or captive proxy answering 200 with HTML, a service that reports a
failure with a 200, an answer far larger than any page, and the loose
typing several providers show (``"active": "false"``, numeric IDs,
``null`` lists, counts as strings). FakeScim serves them exactly as
written; scim2-server validates its output and never would.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from baton_scim.errors import ProtocolError
from baton_scim.http import ScimClient
from baton_scim.provider import Credentials
from baton_scim.runtime import prepare
from baton_scim.settings import Settings
from pydantic import SecretStr

from tests.conftest import GO_REFERENCE
from tests.support.fake_scim import (
    LIST_RESPONSE,
    SCIM_JSON,
    FakeScim,
    RecordedRequest,
    Response,
    html_error_page,
    huge_body,
    invalid_json,
)
from tests.support.hostile import (
    description,
    leftovers,
    make_group,
    make_users,
    one_error_line,
    sync,
)
from tests.support.snapshot import snapshot

TOKEN = "hostile-token-1"
OLD_BYTES = (GO_REFERENCE / "sync.c1z").read_bytes()
FIRST_PAGE = "GET /scim/v2/Users?startIndex=1&count=100"


def users_answer(body: bytes | Any, content_type: str = SCIM_JSON):
    """A before_request hook answering every user list with ``body``."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()

    def answer(request: RecordedRequest) -> Response | None:
        if not request.path.endswith("/Users"):
            return None
        return Response(200, {"Content-Type": content_type}, raw)

    return answer


def _failed_sync(folder: Path, *flags: str, **server: Any) -> str:
    """Sync a FakeScim that misbehaves; check the failure promise; the line."""
    out = folder / "sync.c1z"
    out.write_bytes(OLD_BYTES)
    with FakeScim(make_users(3), [], token=TOKEN, **server) as fake:
        config = description(folder, fake.url)
        result = sync(config, out, "--api-key", TOKEN, *flags)

    line = one_error_line(result)
    assert "never retrieved" not in result.stderr
    assert out.read_bytes() == OLD_BYTES
    assert leftovers(folder) == []
    return line


def test_a_cut_off_json_answer_is_named_with_its_request(tmp_path):
    line = _failed_sync(tmp_path, faults=[invalid_json("/Users")])

    assert f"{FIRST_PAGE}: the answer is not JSON (application/scim+json" in line


def test_an_html_page_with_status_200_is_named_as_such(tmp_path):
    line = _failed_sync(tmp_path, faults=[html_error_page("/Users")])

    assert f"{FIRST_PAGE}: the answer is an HTML page, not JSON" in line
    assert "sign-in page" in line


def test_an_empty_answer_is_named_as_such(tmp_path):
    line = _failed_sync(tmp_path, before_request=users_answer(b""))

    assert f"{FIRST_PAGE}: the answer is empty, not JSON" in line


def test_json_nested_beyond_reason_is_refused(tmp_path):
    nested = b"[" * 100_000 + b"]" * 100_000
    line = _failed_sync(tmp_path, before_request=users_answer(nested))

    assert f"{FIRST_PAGE}: the answer is JSON nested too deeply to read" in line


def test_an_answer_over_the_size_cap_is_refused(tmp_path):
    faults = [huge_body(2 * 1024 * 1024, "/Users")]
    line = _failed_sync(tmp_path, "--max-response-mb", "1", faults=faults)

    assert f"{FIRST_PAGE}: the answer is larger than 1 MiB" in line
    assert "--max-response-mb" in line


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ([1, 2, 3], "the answer is a JSON array, not a SCIM ListResponse"),
        (
            {"totalResults": 3, "Resources": {"id": "u-1"}},
            "'Resources' is a JSON object, not a list",
        ),
        (
            {"totalResults": 2, "Resources": [{"id": "u-1"}, "u-2"]},
            "Resources[1] is a JSON string, not a resource object",
        ),
        (
            {"schemas": [LIST_RESPONSE], "totalResults": 3},
            "the service announced 3 resources (totalResults) but listed none",
        ),
        (
            {"users": [{"id": "u-1"}], "count": 1},
            "the answer is not a SCIM ListResponse: it has neither Resources nor "
            "totalResults (keys: count, users)",
        ),
        (
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                "status": "429",
                "detail": "Too many requests",
            },
            "the service answered 200 with an error: Too many requests",
        ),
    ],
    ids=[
        "array",
        "resources-object",
        "resource-not-object",
        "missing-resources",
        "not-a-list-response",
        "error-with-200",
    ],
)
def test_a_list_answer_of_the_wrong_shape_names_the_request(tmp_path, body, expected):
    line = _failed_sync(tmp_path, before_request=users_answer(body))

    assert f"{FIRST_PAGE}: {expected}" in line


async def test_a_streamed_answer_is_cut_off_at_the_size_cap(tmp_path):
    async def chunks():
        for _ in range(3):
            yield b"x" * (600 * 1024)

    def stream(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=chunks())  # no Content-Length

    config = description(tmp_path, "http://scim.test/scim/v2")
    credentials = Credentials(api_key=SecretStr(TOKEN))
    context = prepare(Settings(scim_config=config, credentials=credentials))
    transport = httpx.MockTransport(stream)
    client = ScimClient(
        context, context.options["auth"], transport=transport, max_body_bytes=1024**2
    )

    with pytest.raises(ProtocolError) as caught:
        await client.get_json("Users")

    assert "GET /scim/v2/Users: the answer is larger than 1 MiB" in str(caught.value)


def _loose_directory() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Users and groups with the loose typing real services send."""
    users = make_users(4)
    users[0]["active"] = "false"  # a string, not a boolean
    users[1]["active"] = "False"
    users[2].update(id=1001, roles=None, emails=None, name=None)  # numeric ID
    users[3].update(active=0, groups=None)
    groups = [make_group("g-one", ["u-0001", 1001]), make_group("g-two", [])]
    groups[1]["members"] = None
    return users, groups


def test_loose_types_are_coerced_where_their_meaning_is_certain(tmp_path):
    users, groups = _loose_directory()
    out = tmp_path / "sync.c1z"
    with FakeScim(users, groups, token=TOKEN) as fake:
        config = description(tmp_path, fake.url)
        result = sync(config, out, "--api-key", TOKEN, "--log-level", "debug")

    assert result.exit_code == 0, result.output
    snap = snapshot(out)
    status = {
        r[1]: dict(dict(r[3])["status"])["status"]
        for r in snap["resources"]
        if r[0] == "user"
    }
    assert status == {
        "u-0001": "STATUS_DISABLED",
        "u-0002": "STATUS_DISABLED",
        "1001": "STATUS_ENABLED",
        "u-0004": "STATUS_DISABLED",
    }
    members = {(g[3], g[5]) for g in snap["grants"] if g[2] == "group"}
    assert members == {("g-one", "u-0001"), ("g-one", "1001")}
    assert "coerced 'false' to a boolean" in result.stderr
    assert "coerced a int identifier to text" in result.stderr


def test_a_null_resources_list_is_an_empty_page(tmp_path):
    empty = {"schemas": [LIST_RESPONSE], "totalResults": 0, "Resources": None}
    out = tmp_path / "sync.c1z"
    with FakeScim([], [], token=TOKEN, before_request=users_answer(empty)) as fake:
        result = sync(description(tmp_path, fake.url), out, "--api-key", TOKEN)

    assert result.exit_code == 0, result.output
    assert [r for r in snapshot(out)["resources"] if r[0] == "user"] == []
