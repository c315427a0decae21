"""``baton-scim check``: will a sync work? Asked of the service, nothing written."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.fake_scim import (
    LIST_RESPONSE,
    SERVICE_PROVIDER_CONFIG,
    FakeScim,
    RecordedRequest,
    Response,
    json_response,
)
from tests.support.scim_server import ScimServer, seed_directory

DESCRIPTION = Path(__file__).parent / "data" / "scim2-server.yaml"
REFERENCE_TOKEN = "ref-token"
WIDE = {"COLUMNS": "200"}


@pytest.fixture(scope="module")
def seeded():
    """A real scim2-server with a small directory, shared by read-only tests."""
    with ScimServer("check-token-0123456789") as server:
        seed_directory(server, users=12, groups=3)
        yield server


@pytest.fixture
def unused_port() -> int:
    """A port of 127.0.0.1 that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def check(server_url: str, token: str, *args: str, description: Path = DESCRIPTION):
    return run_cli(
        "--scim-config",
        str(description),
        "--api-endpoint",
        server_url,
        "--token",
        token,
        *args,
        env=WIDE,
    )


def description_with(tmp_path: Path, old: str, new: str) -> Path:
    text = DESCRIPTION.read_text()
    assert old in text
    path = tmp_path / "description.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


# -- A real scim2-server -------------------------------------------------------


def test_check_passes_with_good_credentials_and_reports_capabilities(seeded):
    result = check(seeded.url, seeded.token, "check")

    assert result.exit_code == 0, result.output
    assert "a sync would work" in result.stdout
    for capability in ("patch", "filter", "etag", "yes (max 1000)"):
        assert capability in result.stdout
    assert "GET /Users: 12 users announced" in result.stdout
    assert "GET /Groups: 3 groups announced" in result.stdout
    assert "error" not in result.stderr


def test_check_json_reports_what_the_service_announced(seeded):
    result = check(seeded.url, seeded.token, "check", "--json")
    report = json.loads(result.stdout)

    assert result.exit_code == 0
    assert report["ok"] is True
    capabilities = report["capabilities"]
    assert capabilities["patch"] is True
    assert capabilities["etag"] is True
    assert capabilities["filter_max_results"] == 1000
    assert capabilities["authentication_schemes"] == ["oauthbearertoken"]
    assert report["users"]["total"] == 12
    assert report["users"]["received"] == 1, "one small page, not the listing"
    assert report["groups"]["total"] == 3
    assert report["requests"] == 3


def test_check_with_a_wrong_token_fails_with_one_clear_line(seeded):
    result = check(seeded.url, "not-the-token", "check")

    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1
    assert "401" in errors[0] and "check the credentials" in errors[0]
    assert "a sync would fail" in result.stdout
    assert "not-the-token" not in result.output


def test_check_with_a_wrong_endpoint_says_so(seeded):
    result = check(seeded.url + "/nothing-here", seeded.token, "check")

    assert result.exit_code == 1
    assert "404" in result.stderr and "apiEndpoint" in result.stderr


def test_check_of_an_unreachable_service_fails(unused_port):
    result = check(f"http://127.0.0.1:{unused_port}/v2", "t0ken-value", "check")

    assert result.exit_code == 1
    assert "cannot connect" in result.stderr


def test_check_writes_nothing(seeded, tmp_path):
    out = tmp_path / "sync.c1z"

    result = check(seeded.url, seeded.token, "-f", str(out), "check")

    assert result.exit_code == 0, result.output
    assert list(tmp_path.iterdir()) == []


def test_check_sees_a_description_whose_user_id_finds_nothing(seeded, tmp_path):
    description = description_with(tmp_path, 'id: "id"', 'id: "identifier"')

    result = check(seeded.url, seeded.token, "check", description=description)

    assert result.exit_code == 1
    assert "user.id finds no ID" in result.stderr


def test_check_finds_that_scim2_server_guards_replace_removals_with_etags(
    seeded, tmp_path
):
    description = description_with(
        tmp_path,
        'removeUserFromGroup:\n    op: "remove"',
        'removeUserFromGroup:\n    op: "replace"',
    )

    result = check(seeded.url, seeded.token, "-p", "check", description=description)

    assert result.exit_code == 0, result.output
    assert "op replace writes the list back, guarded by If-Match" in result.stdout


def test_check_sees_an_op_that_cannot_do_its_action(seeded, tmp_path):
    description = description_with(
        tmp_path,
        'addUserToGroup:\n    op: "add"',
        'addUserToGroup:\n    op: "remove"',
    )

    plain = check(seeded.url, seeded.token, "check", description=description)
    provisioning = check(
        seeded.url, seeded.token, "-p", "check", description=description
    )

    assert plain.exit_code == 0
    assert "provisioning.addUserToGroup.op: 'remove' cannot add" in plain.stdout
    assert provisioning.exit_code == 1
    assert "use op: add or replace" in provisioning.stderr


def test_check_refuses_provisioning_flag_without_a_provisioning_section(
    seeded, tmp_path
):
    text = DESCRIPTION.read_text()
    path = tmp_path / "no-provisioning.yaml"
    path.write_text(text[: text.index("provisioning:")])

    without_p = check(seeded.url, seeded.token, "check", description=path)
    with_p = check(seeded.url, seeded.token, "-p", "check", description=path)

    assert without_p.exit_code == 0
    assert with_p.exit_code == 1
    assert "no provisioning section" in with_p.stderr


def test_check_stops_at_a_broken_description_before_any_request(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("apiEndpoint: [unclosed\n")

    result = run_cli("--scim-config", str(path), "--token", "t0ken-value", "check")

    assert result.exit_code == 2
    assert "YAML syntax error" in result.stderr


# -- Services scim2-server cannot imitate ---------------------------------------


def no_service_provider_config(request: RecordedRequest) -> Response | None:
    """404 on the discovery endpoint, the case authentik meets and works around.

    RFC 7644 §4 asks for /ServiceProviderConfig, but clients such as
    authentik fall back to defaults when it fails (providers.md §3,
    Discovery), and the Go connector never reads it (providers.md §1.3).
    """
    if "ServiceProviderConfig" in request.path:
        return Response.error_reply(404, "Not found")
    return None


def reference_check(reference_config, server: FakeScim, *args: str):
    return run_cli(
        "--scim-config",
        str(reference_config(server.url)),
        "--api-key",
        REFERENCE_TOKEN,
        *args,
        env=WIDE,
    )


def test_a_service_without_service_provider_config_is_a_warning(
    reference_directory, reference_config
):
    users, groups = reference_directory["Users"], reference_directory["Groups"]
    with FakeScim(
        users,
        groups,
        token=REFERENCE_TOKEN,
        before_request=no_service_provider_config,
    ) as server:
        result = reference_check(reference_config, server, "check")

    assert result.exit_code == 0, result.output
    assert "warning" in result.stdout
    assert "no /ServiceProviderConfig" in result.stdout
    assert "a sync would work" in result.stdout
    assert "error" not in result.stderr


def slack_v1_discovery(request: RecordedRequest) -> Response | None:
    """Slack's SCIM 1.1 API names the endpoint in the plural (providers.md §2.1).

    The capabilities in the body are made up for the test.
    """
    if request.path.endswith("/ServiceProviderConfigs"):
        body = {
            "schemas": [SERVICE_PROVIDER_CONFIG],
            "patch": {"supported": True},
            "filter": {"supported": True, "maxResults": 1000},
            "etag": {"supported": False},
        }
        return json_response(200, body)
    return no_service_provider_config(request)


def test_the_scim_1_1_plural_discovery_endpoint_is_read(
    reference_directory, reference_config
):
    users, groups = reference_directory["Users"], reference_directory["Groups"]
    with FakeScim(
        users, groups, token=REFERENCE_TOKEN, before_request=slack_v1_discovery
    ) as server:
        result = reference_check(reference_config, server, "check", "--json")

    report = json.loads(result.stdout)
    assert report["capabilities"]["source"] == "/ServiceProviderConfigs"
    assert report["capabilities"]["etag"] is False


def unversioned_config(**changes) -> dict:
    """A ServiceProviderConfig with etag.supported: false (RFC 7643 §5)."""
    config = {
        "schemas": [SERVICE_PROVIDER_CONFIG],
        "patch": {"supported": True},
        "filter": {"supported": True, "maxResults": 50},
        "etag": {"supported": False},
    }
    config.update(changes)
    return config


def unversioned_lists(fake: FakeScim):
    """List users and groups whose meta has no version, as Postman documents them.

    Postman's SCIM resources carry meta{resourceType, created, lastModified}
    and no version (providers.md §2.4).
    """

    def answer(request: RecordedRequest) -> Response | None:
        endpoint = request.path.rsplit("/", 1)[-1]
        if request.method != "GET" or endpoint not in ("Users", "Groups"):
            return None
        items = fake.users if endpoint == "Users" else fake.groups
        resources = [{k: v for k, v in item.items() if k != "meta"} for item in items]
        body = {
            "schemas": [LIST_RESPONSE],
            "totalResults": len(resources),
            "startIndex": 1,
            "itemsPerPage": len(resources),
            "Resources": resources,
        }
        return json_response(200, body)

    return answer


def test_a_list_rewrite_without_any_version_fails_only_with_provisioning(
    reference_directory, reference_config
):
    # The Go reference description removes members with op: replace.
    users, groups = reference_directory["Users"], reference_directory["Groups"]
    fake = FakeScim(
        users,
        groups,
        token=REFERENCE_TOKEN,
        service_provider_config=unversioned_config(),
    )
    fake.before_request = unversioned_lists(fake)
    with fake as server:
        plain = reference_check(reference_config, server, "check")
        provisioning = reference_check(reference_config, server, "-p", "check")

    assert plain.exit_code == 0, plain.output
    assert "shows no version to guard it" in plain.stdout
    assert provisioning.exit_code == 1
    errors = [line for line in provisioning.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "provisioning.removeUserFromGroup" in errors[0]


def test_versions_in_the_listing_guard_a_rewrite_without_announced_etags(
    reference_directory, reference_config
):
    users, groups = reference_directory["Users"], reference_directory["Groups"]
    with FakeScim(
        users,
        groups,
        token=REFERENCE_TOKEN,
        service_provider_config=unversioned_config(),
    ) as server:
        result = reference_check(reference_config, server, "-p", "check")

    assert result.exit_code == 0, result.output
    assert "op replace writes the list back, guarded by If-Match" in result.stdout


def test_patch_not_supported_fails_provisioning(reference_directory, reference_config):
    users, groups = reference_directory["Users"], reference_directory["Groups"]
    config = unversioned_config(patch={"supported": False})
    with FakeScim(
        users, groups, token=REFERENCE_TOKEN, service_provider_config=config
    ) as server:
        result = reference_check(reference_config, server, "-p", "check")

    assert result.exit_code == 1
    assert "patch.supported: false" in result.stderr


def test_a_page_size_above_the_announced_cap_is_a_warning(
    reference_directory, reference_config
):
    users, groups = reference_directory["Users"], reference_directory["Groups"]
    with FakeScim(
        users,
        groups,
        token=REFERENCE_TOKEN,
        service_provider_config=unversioned_config(),
    ) as server:
        result = reference_check(reference_config, server, "check")

    assert "returns at most 50 per page" in result.stdout


def test_rfc_9865_paging_is_reported(reference_directory, reference_config):
    users, groups = reference_directory["Users"], reference_directory["Groups"]
    with FakeScim(users, groups, token=REFERENCE_TOKEN, max_count=2) as server:
        result = reference_check(reference_config, server, "check", "--json")

    pagination = json.loads(result.stdout)["capabilities"]["pagination"]
    assert pagination == {"cursor": False, "index": True, "maxPageSize": 2}
