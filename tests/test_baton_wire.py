"""The hot-path wire bytes of users and grants equal the protobuf messages.

baton.py builds user resources and grants directly as bytes; these tests
hold every such byte string to the deterministic serialization of the
message the slow path builds, and to the worked example of c1z-format.md §8.
"""

from __future__ import annotations

import pytest
from baton_scim import baton
from baton_scim.records import RoleRef, UserRecord

from tests.test_c1z_messages import VECTORS

LONG = "x" * 300  # lengths past 127 take two varint bytes


def _user(**fields: object) -> UserRecord:
    values: dict[str, object] = {
        "id": "2819c223-7f76-453a-919d-413861904646",
        "user_name": "bjensen@example.com",
        "first_name": "Barbara",
        "last_name": "Jensen",
        "email": "bjensen@example.com",
        "active": True,
        "display_name": "Barbara Jensen",
    }
    values.update(fields)
    return UserRecord(**values)  # type: ignore[arg-type]


USERS = {
    "full": _user(),
    "inactive": _user(active=False),
    "no email: login is the user name": _user(email=""),
    "no names, no display name": _user(first_name="", last_name="", display_name=""),
    "only an id": UserRecord(id="u-1"),
    "non-ascii text": _user(
        first_name="Zoë", last_name="Ñúñez 山田", display_name="Zoë"
    ),
    "long values": _user(user_name=LONG, first_name=LONG, email=f"{LONG}@example.com"),
    "long id": _user(id="i" * 5000),
    "long display name only": _user(display_name="Barbara " + LONG),
    "values just below and at 100 bytes": _user(user_name="u" * 99, email="e" * 100),
}


@pytest.mark.parametrize("user", USERS.values(), ids=USERS.keys())
def test_user_resource_bytes_equal_the_message(user: UserRecord) -> None:
    message = baton.user_resource(user)

    assert baton.user_resource_data(user) == message.SerializeToString(
        deterministic=True
    )


def test_user_resource_bytes_match_the_format_example() -> None:
    # §8: user u1 "Alice Example", login alice@example.com, username alice.
    alice = UserRecord(
        id="u1",
        user_name="alice",
        first_name="Alice",
        last_name="Example",
        email="alice@example.com",
        display_name="Alice Example",
    )

    assert baton.user_resource_data(alice) == bytes.fromhex(VECTORS["r_user"])


@pytest.mark.parametrize("user_id", ["u1", "2819c223-7f76", "é" * 200])
def test_user_principal_bytes_equal_the_message(user_id: str) -> None:
    message = baton.user_principal(user_id)

    assert baton.user_principal_data(user_id) == message.SerializeToString(
        deterministic=True
    )


TARGETS = {
    "group": baton.group_resource("g1", "Engineering"),
    "group with a long name": baton.group_resource("g" * 40, "Team " + LONG),
    "role": baton.role_resource(RoleRef("Billing Manager")),
}


@pytest.mark.parametrize("resource", TARGETS.values(), ids=TARGETS.keys())
@pytest.mark.parametrize("user", [USERS["full"], USERS["long values"]])
def test_grant_bytes_equal_the_message(resource, user: UserRecord) -> None:
    target = baton.GrantTarget.of(resource)
    # Group grants name the user by ID; role grants carry the whole user.
    principals = {
        "id only": (baton.user_principal(user.id), baton.user_principal_data(user.id)),
        "whole user": (baton.user_resource(user), baton.user_resource_data(user)),
    }

    for message_principal, data_principal in principals.values():
        message = baton.grant(resource, message_principal)
        grant_id = target.grant_id("user", user.id)
        assert grant_id == message.id
        assert target.grant_data(data_principal, grant_id) == (
            message.SerializeToString(deterministic=True)
        )


def test_grant_target_columns_come_from_the_resource() -> None:
    target = baton.GrantTarget.of(baton.role_resource(RoleRef("Tier2 Support")))

    assert (target.resource_type, target.resource_id) == ("role", "tier_2_support")
    assert target.entitlement_id == "role:tier_2_support:member"


def test_group_grant_bytes_match_the_format_example() -> None:
    target = baton.GrantTarget.of(baton.group_resource("g1", "Engineering"))

    data = target.grant_data(
        baton.user_principal_data("u1"), target.grant_id("user", "u1")
    )

    assert data == bytes.fromhex(VECTORS["g_group"])
