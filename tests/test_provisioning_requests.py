"""The exact requests a grant or revoke sends, for each op form and provider.

Method, path, Content-Type, If-Match and body are pinned as they reach the
real scim2-server (the value-list remove form, which it refuses, also on
FakeScim). Then the plugin contract: what a provisioning hook receives in
``Change``, and how its request is sent and checked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from baton_scim.config import load_config_file, validate_config
from baton_scim.errors import ProvisioningError
from baton_scim.hookspecs import hookimpl
from baton_scim.plugins import Registry
from baton_scim.provider import Credentials, Provider, ProviderContext
from baton_scim.provisioning import (
    Change,
    ProvisioningRequest,
    carry_out,
    default_request,
    find_grant,
    find_revoke,
)
from baton_scim.records import RoleRef
from baton_scim.runtime import prepare
from baton_scim.settings import Settings
from baton_scim_generic_yaml import EXAMPLES, example_path
from pydantic import SecretStr

from tests.support.fake_scim import FakeScim, RecordedRequest
from tests.test_provisioning import PATCH_OP, World, open_world, replace_removal

SCIM_JSON = "application/scim+json"


@pytest.fixture
def world(tmp_path: Path):
    world = open_world(tmp_path)
    world.sync()
    yield world
    world.close()


def only_write(world: World) -> RecordedRequest:
    writes = world.writes()
    assert len(writes) == 1, [(w.method, w.path) for w in world.sent]
    return writes[0]


def patch_op(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def etag_of(world: World, path: str) -> str:
    return world.http.get(path).headers["etag"]


# -- Group membership ---------------------------------------------------------------


def test_add_member_is_one_patch_with_a_value_list(world: World) -> None:
    gid, dave = world.groups["Sales"], world.users["dave"]
    carol = world.users["carol"]

    assert world.grant(f"group:{gid}:member", carol).exit_code == 0

    write = only_write(world)
    assert (write.method, write.path) == ("PATCH", f"/v2/Groups/{gid}")
    assert write.headers == {"content-type": SCIM_JSON}
    assert write.json == patch_op(
        {"op": "add", "path": "members", "value": [{"value": carol}]}
    )
    assert {m["value"] for m in world.members("Sales")} == {dave, carol}


def test_remove_member_filters_on_its_value(world: World) -> None:
    gid, bob = world.groups["Engineering"], world.users["bob"]

    assert world.revoke(world.membership("Engineering", "bob")).exit_code == 0

    write = only_write(world)
    assert (write.method, write.path) == ("PATCH", f"/v2/Groups/{gid}")
    assert write.headers == {"content-type": SCIM_JSON}
    assert write.json == patch_op(
        {"op": "remove", "path": f'members[value eq "{bob}"]'}
    )


def test_remove_member_as_a_value_list_where_the_description_asks(world: World) -> None:
    world.describe(
        lambda data: data["provisioning"]["removeUserFromGroup"].update(
            removeForm="valueList"
        )
    )
    bob = world.users["bob"]

    result = world.revoke(world.membership("Engineering", "bob"))

    assert only_write(world).json == patch_op(
        {"op": "remove", "path": "members", "value": [{"value": bob}]}
    )
    # scim2-server keeps to RFC 7644 and refuses this form: the error says
    # which description key shaped the request.
    assert result.exit_code == 1
    assert "answered 400" in result.stderr
    assert "check provisioning.removeUserFromGroup" in result.stderr


def test_replace_writes_back_every_other_member_as_read_with_if_match(
    world: World,
) -> None:
    world.describe(replace_removal)
    gid = world.groups["Engineering"]
    version = etag_of(world, f"/Groups/{gid}")
    before = world.members("Engineering")

    assert world.revoke(world.membership("Engineering", "bob")).exit_code == 0

    write = only_write(world)
    assert (write.method, write.path) == ("PATCH", f"/v2/Groups/{gid}")
    assert write.headers == {"content-type": SCIM_JSON, "if-match": version}
    rest = [m for m in before if m["value"] != world.users["bob"]]
    assert write.json == patch_op({"op": "replace", "path": "members", "value": rest})
    assert world.members("Engineering") == rest


def test_replace_of_the_last_member_writes_an_empty_list(world: World) -> None:
    world.describe(replace_removal)

    assert world.revoke(world.membership("Sales", "dave")).exit_code == 0

    assert only_write(world).json == patch_op(
        {"op": "replace", "path": "members", "value": []}
    )
    assert world.members("Sales") == []


# -- Roles --------------------------------------------------------------------------


def test_add_role_sends_value_and_display(world: World) -> None:
    carol = world.users["carol"]

    assert world.grant("role:billing_manager:member", carol).exit_code == 0

    write = only_write(world)
    assert (write.method, write.path) == ("PATCH", f"/v2/Users/{carol}")
    assert write.headers == {"content-type": SCIM_JSON}
    role = {"value": "billing", "display": "Billing Manager"}
    assert write.json == patch_op({"op": "add", "path": "roles", "value": [role]})


def test_remove_role_filters_on_its_value(world: World) -> None:
    alice = world.users["alice"]

    assert world.revoke(f"role:workspace_admin:member:user:{alice}").exit_code == 0

    write = only_write(world)
    assert (write.method, write.path) == ("PATCH", f"/v2/Users/{alice}")
    assert write.json == patch_op({"op": "remove", "path": 'roles[value eq "admin"]'})
    assert [r["value"] for r in world.roles("alice")] == ["billing", "support"]


def test_put_rewrites_the_user_without_that_role_with_if_match(world: World) -> None:
    def put_roles(data: dict[str, Any]) -> None:
        data["provisioning"]["removeUserRole"].update(method="PUT")

    world.describe(put_roles)
    alice = world.users["alice"]
    user = world.http.get(f"/Users/{alice}")

    assert world.revoke(f"role:tier_2_support:member:user:{alice}").exit_code == 0

    write = only_write(world)
    assert (write.method, write.path) == ("PUT", f"/v2/Users/{alice}")
    assert write.headers == {
        "content-type": SCIM_JSON,
        "if-match": user.headers["etag"],
    }
    expected = {k: v for k, v in user.json().items() if k != "meta"}
    expected["roles"] = [r for r in expected["roles"] if r["value"] != "support"]
    assert write.json == expected
    assert [r["value"] for r in world.roles("alice")] == ["admin", "billing"]


# -- The value-list form where a service takes it ---------------------------------


def test_value_list_remove_takes_one_member_out_on_a_service_that_accepts_it(
    tmp_path: Path,
) -> None:
    # Entra ID and authentik send and accept this non-RFC form (providers.md,
    # PATCH); FakeScim applies it, and answers PATCH with 204 as Slack does.
    users = [{"id": f"u{n}", "userName": f"u{n}@example.com"} for n in (1, 2, 3)]
    members = [{"value": "u1"}, {"value": "u2"}, {"value": "u3"}]
    groups = [{"id": "g1", "displayName": "Team", "members": members}]
    with FakeScim(users, groups, base_path="/v2", patch_status=204) as server:
        config = _described(tmp_path, server.url, removeForm="valueList")
        args = (
            "--scim-config",
            str(config),
            "--token",
            "t",
            "-f",
            str(tmp_path / "s.c1z"),
        )
        assert _run(*args).exit_code == 0
        server.reset_requests()

        result = _run(*args, "-p", "--revoke-grant", "group:g1:member:user:u2")

        assert result.stdout == "revoked group:g1:member from user:u2\n"
        write = [r for r in server.requests if r.method == "PATCH"]
        assert [w.json for w in write] == [
            patch_op({"op": "remove", "path": "members", "value": [{"value": "u2"}]})
        ]
        assert server.groups[0]["members"] == [{"value": "u1"}, {"value": "u3"}]


def _described(tmp_path: Path, url: str, **removal: Any) -> Path:
    data = yaml.safe_load(
        (Path(__file__).parent / "data" / "scim2-server.yaml").read_text()
    )
    data["apiEndpoint"] = url + "/"
    data["provisioning"]["removeUserFromGroup"].update(removal)
    path = tmp_path / "fake.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _run(*args: str):
    from tests.support.cli import run_cli

    return run_cli(*args)


# -- Pure request shapes: escaping, op spelling, the built-in descriptions ------------


def _context(config: Any) -> ProviderContext:
    provider = Provider("pinned", "", lambda request: ("", ""), "pinned.yaml")
    return ProviderContext(provider, config)


def _change(context: ProviderContext, action: str, **fields: Any) -> Change:
    section = context.config.provisioning
    assert section is not None
    return Change(action, operation=getattr(section, action), **fields)


def test_a_filter_value_is_escaped_as_a_json_string() -> None:
    context = _context(_scim2_config())
    change = _change(
        context, "remove_user_from_group", user_id='odd"id\\1', group_id="g/1"
    )

    request = default_request(context, change)

    assert request.path == "Groups/g%2F1"
    assert request.body["Operations"] == [
        {"op": "remove", "path": 'members[value eq "odd\\"id\\\\1"]'}
    ]


def test_capitalised_ops_are_sent_in_lower_case() -> None:
    # Miro and Entra material spells ops "Add" and "Remove" (providers.md).
    data = _scim2_data()
    data["provisioning"]["addUserToGroup"]["op"] = "Add"
    data["provisioning"]["removeUserRole"]["op"] = "Remove"
    context = _context(validate_config(data, source="test"))
    role = RoleRef("admin", "Workspace Admin")

    add = default_request(
        context, _change(context, "add_user_to_group", user_id="u1", group_id="g1")
    )
    remove = default_request(
        context, _change(context, "remove_user_role", user_id="u1", role=role)
    )

    assert add.body["Operations"][0]["op"] == "add"
    assert remove.body["Operations"] == [
        {"op": "remove", "path": 'roles[value eq "admin"]'}
    ]


EXPECTED_EXAMPLE_BODIES = {
    "add_user_to_group": {"op": "add", "path": "members", "value": [{"value": "u1"}]},
    "remove_user_from_group": {"op": "remove", "path": 'members[value eq "u1"]'},
}


@pytest.mark.parametrize("name", EXAMPLES)
@pytest.mark.parametrize("action", sorted(EXPECTED_EXAMPLE_BODIES))
def test_the_example_descriptions_send_rfc_7644_bodies(name: str, action: str) -> None:
    context = _context(load_config_file(example_path(name)))
    change = _change(context, action, user_id="u1", group_id="g1")

    request = default_request(context, change)

    assert (request.method, request.path, request.headers) == ("PATCH", "Groups/g1", {})
    assert request.body == patch_op(EXPECTED_EXAMPLE_BODIES[action])


def _scim2_data() -> dict[str, Any]:
    return yaml.safe_load(
        (Path(__file__).parent / "data" / "scim2-server.yaml").read_text()
    )


def _scim2_config() -> Any:
    return validate_config(_scim2_data(), source="scim2-server.yaml")


# -- The plugin contract ------------------------------------------------------------


class ProbeHooks:
    """A provider plugin that records each Change and answers ``respond``."""

    def __init__(self, respond: Callable[[Change], ProvisioningRequest | None]) -> None:
        self.respond = respond
        self.changes: list[Change] = []

    @hookimpl
    def baton_scim_provisioning_request(
        self, provider: ProviderContext, change: Change
    ) -> ProvisioningRequest | None:
        self.changes.append(change)
        return self.respond(change)


def _provision(
    world: World, hooks: ProbeHooks, kind: str, *ids: str, edit: Any = None
) -> Any:
    """Grant or revoke through a probe provider that has ``hooks``."""
    text = world.describe(edit, name="probe.yaml").read_text()
    provider = Provider(
        "probe", "", lambda request: (text, "probe.yaml"), "probe.yaml", hooks=hooks
    )
    settings = Settings(
        service_provider="probe",
        credentials=Credentials(token=SecretStr(world.server.token)),
        file=world.file,
        provisioning=True,
    )
    context = prepare(settings, Registry({"probe": provider}))
    ref = (
        find_revoke(world.file, ids[0])
        if kind == "revoke"
        else find_grant(world.file, ids[0], ids[1], "user")
    )
    world.log.clear()
    outcome = asyncio.run(carry_out(context, settings, kind, ref))
    world.sent = list(world.log.entries)
    return outcome


def test_a_plugin_gets_the_target_as_read_and_its_request_is_sent(world: World) -> None:
    alice = world.users["alice"]
    version = etag_of(world, f"/Users/{alice}")

    def zoom_like_put(change: Change) -> ProvisioningRequest:
        kept = [r for r in change.current["roles"] if r["value"] != change.value]
        return ProvisioningRequest(
            "PUT", change.target_path, {**change.current, "roles": kept}
        )

    hooks = ProbeHooks(zoom_like_put)
    outcome = _provision(
        world, hooks, "revoke", f"role:billing_manager:member:user:{alice}"
    )

    assert outcome.line == f"revoked role:billing_manager:member from user:{alice}"
    (change,) = hooks.changes
    assert (change.action, change.user_id, change.group_id) == (
        "remove_user_role",
        alice,
        None,
    )
    assert change.role == RoleRef("billing", "Billing Manager")
    assert change.current is not None and change.current["id"] == alice
    assert change.version == version
    write = only_write(world)
    # A PUT rewrites the list: the executor adds If-Match on the version read.
    assert (write.method, write.header("if-match")) == ("PUT", version)
    assert [r["value"] for r in world.roles("alice")] == ["admin", "support"]


def test_a_plugin_returning_none_leaves_the_request_to_the_description(
    world: World,
) -> None:
    hooks = ProbeHooks(lambda change: None)
    gid, carol = world.groups["Sales"], world.users["carol"]

    outcome = _provision(world, hooks, "grant", f"group:{gid}:member", carol)

    assert outcome.changed and len(hooks.changes) == 1
    assert hooks.changes[0].group_id == gid
    assert only_write(world).json == patch_op(
        {"op": "add", "path": "members", "value": [{"value": carol}]}
    )


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "remove", "path": "members"},
        {"op": "remove", "path": "members", "value": []},
        {"op": "replace", "path": "members", "value": []},
    ],
    ids=["remove-all", "remove-empty-list", "replace-with-nobody"],
)
def test_a_revoke_request_that_would_remove_others_is_never_sent(
    world: World, operation: dict[str, Any]
) -> None:
    def careless(change: Change) -> ProvisioningRequest:
        return ProvisioningRequest("PATCH", change.target_path, patch_op(operation))

    with pytest.raises(ProvisioningError, match="refusing to send PATCH Groups/"):
        _provision(
            world,
            ProbeHooks(careless),
            "revoke",
            world.membership("Engineering", "bob"),
        )

    assert world.writes() == []
    assert world.member_names("Engineering") == {"alice", "bob", "carol"}
