"""The protobuf encoding of the worked example of c1z-format.md §8."""

from typing import Any

import pytest
from baton_scim.c1z import messages as m
from google.protobuf import any_pb2

# §8.6: hex of each `data` blob, map keys of every Struct in ascending order.
VECTORS = {
    "rt_user": "0a04757365721204557365721a0101",
    "rt_group": "0a0567726f7570120547726f75701a0102",
    "rt_role": "0a04726f6c651204526f6c651a0103",
    "user_trait": (
        "0a150a11616c696365406578616d706c652e636f6d1001120208011a730a150a0a6669"
        "7273745f6e616d6512071a05416c6963650a160a096c6173745f6e616d6512091a0745"
        "78616d706c650a1c0a056c6f67696e12131a11616c696365406578616d706c652e636f"
        "6d0a0f0a07757365725f696412041a0275310a130a08757365726e616d6512071a0561"
        "6c6963652801"
    ),
    "r_user": (
        "0a0a0a0475736572120275311a0d416c696365204578616d706c6522c4010a2d747970"
        "652e676f6f676c65617069732e636f6d2f63312e636f6e6e6563746f722e76322e5573"
        "657254726169741292010a150a11616c696365406578616d706c652e636f6d10011202"
        "08011a730a150a0a66697273745f6e616d6512071a05416c6963650a160a096c617374"
        "5f6e616d6512091a074578616d706c650a1c0a056c6f67696e12131a11616c69636540"
        "6578616d706c652e636f6d0a0f0a07757365725f696412041a0275310a130a08757365"
        "726e616d6512071a05616c6963652801"
    ),
    "r_group": (
        "0a0b0a0567726f7570120267311a0b456e67696e656572696e6722630a2e747970652e"
        "676f6f676c65617069732e636f6d2f63312e636f6e6e6563746f722e76322e47726f75"
        "7054726169741231122f0a100a0867726f75705f696412041a0267310a1b0a0a67726f"
        "75705f6e616d65120d1a0b456e67696e656572696e67"
    ),
    "r_role": (
        "0a0d0a04726f6c65120561646d696e1a0561646d696e225d0a2d747970652e676f6f67"
        "6c65617069732e636f6d2f63312e636f6e6e6563746f722e76322e526f6c6554726169"
        "74122c0a2a0a120a07726f6c655f696412071a0561646d696e0a140a09726f6c655f6e"
        "616d6512071a0561646d696e"
    ),
    "e_group": (
        "0a7f0a0b0a0567726f7570120267311a0b456e67696e656572696e6722630a2e747970"
        "652e676f6f676c65617069732e636f6d2f63312e636f6e6e6563746f722e76322e4772"
        "6f757054726169741231122f0a100a0867726f75705f696412041a0267310a1b0a0a67"
        "726f75705f6e616d65120d1a0b456e67696e656572696e67120f67726f75703a67313a"
        "6d656d6265721a18456e67696e656572696e672067726f7570206d656d626572221b4d"
        "656d626572206f6620456e67696e656572696e672067726f75702a0f0a047573657212"
        "04557365721a0101380142066d656d626572"
    ),
    "e_role": (
        "0a750a0d0a04726f6c65120561646d696e1a0561646d696e225d0a2d747970652e676f"
        "6f676c65617069732e636f6d2f63312e636f6e6e6563746f722e76322e526f6c655472"
        "616974122c0a2a0a120a07726f6c655f696412071a0561646d696e0a140a09726f6c65"
        "5f6e616d6512071a0561646d696e1211726f6c653a61646d696e3a6d656d6265721a11"
        "61646d696e20726f6c65206d656d62657222144d656d626572206f662061646d696e20"
        "726f6c652a0f0a04757365721204557365721a0101380142066d656d626572"
    ),
    "g_group": (
        "0a92010a7f0a0b0a0567726f7570120267311a0b456e67696e656572696e6722630a2e"
        "747970652e676f6f676c65617069732e636f6d2f63312e636f6e6e6563746f722e7632"
        "2e47726f757054726169741231122f0a100a0867726f75705f696412041a0267310a1b"
        "0a0a67726f75705f6e616d65120d1a0b456e67696e656572696e67120f67726f75703a"
        "67313a6d656d626572120c0a0a0a0475736572120275311a1767726f75703a67313a6d"
        "656d6265723a757365723a7531"
    ),
    "g_role": (
        "0a8a010a750a0d0a04726f6c65120561646d696e1a0561646d696e225d0a2d74797065"
        "2e676f6f676c65617069732e636f6d2f63312e636f6e6e6563746f722e76322e526f6c"
        "655472616974122c0a2a0a120a07726f6c655f696412071a0561646d696e0a140a0972"
        "6f6c655f6e616d6512071a0561646d696e1211726f6c653a61646d696e3a6d656d6265"
        "72120c0a0a0a0475736572120275311a19726f6c653a61646d696e3a6d656d6265723a"
        "757365723a7531"
    ),
}

# Byte lengths printed beside each vector in §8.6, to catch a mistyped hex.
LENGTHS = {
    "rt_user": 15,
    "rt_group": 17,
    "rt_role": 15,
    "user_trait": 146,
    "r_user": 226,
    "r_group": 127,
    "r_role": 117,
    "e_group": 228,
    "e_role": 206,
    "g_group": 188,
    "g_role": 182,
}


def struct(**values: str) -> m.Struct:
    profile = m.Struct()
    profile.update(values)
    return profile


def packed(trait: Any) -> m.Any:
    annotation = m.Any()
    annotation.Pack(trait, deterministic=True)
    return annotation


def resource_type(rid: str, name: str, trait: int) -> m.ResourceType:
    return m.ResourceType(id=rid, display_name=name, traits=[trait])


def user_trait() -> m.UserTrait:
    return m.UserTrait(
        emails=[m.UserTrait.Email(address="alice@example.com", is_primary=True)],
        status=m.UserTrait.Status(status=m.UserTrait.Status.STATUS_ENABLED),
        profile=struct(
            first_name="Alice",
            last_name="Example",
            login="alice@example.com",
            user_id="u1",
            username="alice",
        ),
        account_type=m.UserTrait.ACCOUNT_TYPE_HUMAN,
    )


def resource(kind: str, rid: str, name: str, trait: Any) -> m.Resource:
    return m.Resource(
        id=m.ResourceId(resource_type=kind, resource=rid),
        display_name=name,
        annotations=[packed(trait)],
    )


def example() -> dict[str, Any]:
    """Every object of the §8 scenario, keyed like VECTORS."""
    users = resource_type("user", "User", m.ResourceType.TRAIT_USER)
    r_group = resource(
        "group",
        "g1",
        "Engineering",
        m.GroupTrait(profile=struct(group_id="g1", group_name="Engineering")),
    )
    r_role = resource(
        "role",
        "admin",
        "admin",
        m.RoleTrait(profile=struct(role_id="admin", role_name="admin")),
    )
    e_group = member_entitlement(r_group, "Engineering group", users)
    e_role = member_entitlement(r_role, "admin role", users)
    return {
        "rt_user": users,
        "rt_group": resource_type("group", "Group", m.ResourceType.TRAIT_GROUP),
        "rt_role": resource_type("role", "Role", m.ResourceType.TRAIT_ROLE),
        "user_trait": user_trait(),
        "r_user": resource("user", "u1", "Alice Example", user_trait()),
        "r_group": r_group,
        "r_role": r_role,
        "e_group": e_group,
        "e_role": e_role,
        "g_group": member_grant(r_group, e_group.id),
        "g_role": member_grant(r_role, e_role.id),
    }


def member_entitlement(
    on: m.Resource, label: str, grantable: m.ResourceType
) -> m.Entitlement:
    return m.Entitlement(
        resource=on,
        id=f"{on.id.resource_type}:{on.id.resource}:member",
        display_name=f"{label} member",
        description=f"Member of {label}",
        grantable_to=[grantable],
        purpose=m.Entitlement.PURPOSE_VALUE_ASSIGNMENT,
        slug="member",
    )


def member_grant(on: m.Resource, entitlement_id: str) -> m.Grant:
    return m.Grant(
        entitlement=m.Entitlement(resource=on, id=entitlement_id),
        principal=m.Resource(id=m.ResourceId(resource_type="user", resource="u1")),
        id=f"{entitlement_id}:user:u1",
    )


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_test_vector_table_has_the_documented_lengths(name: str) -> None:
    assert len(bytes.fromhex(VECTORS[name])) == LENGTHS[name]


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_example_object_encodes_to_the_documented_bytes(name: str) -> None:
    message = example()[name]

    encoded = message.SerializeToString(deterministic=True)

    assert encoded.hex() == VECTORS[name]


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_documented_bytes_decode_and_reencode_identically(name: str) -> None:
    cls = type(example()[name])

    message = cls.FromString(bytes.fromhex(VECTORS[name]))

    assert message.SerializeToString(deterministic=True).hex() == VECTORS[name]


def test_resource_type_traits_are_packed() -> None:
    users = resource_type("user", "User", m.ResourceType.TRAIT_USER)

    # Field 3, wire type 2 (length-delimited), one byte of payload.
    assert users.SerializeToString().endswith(bytes.fromhex("1a0101"))


def test_trait_annotations_carry_the_sdk_type_urls() -> None:
    objects = example()

    urls = [
        objects[name].annotations[0].type_url
        for name in ("r_user", "r_group", "r_role")
    ]

    assert urls == [
        "type.googleapis.com/c1.connector.v2.UserTrait",
        "type.googleapis.com/c1.connector.v2.GroupTrait",
        "type.googleapis.com/c1.connector.v2.RoleTrait",
    ]
    assert m.type_url(m.UserTrait()) == urls[0]


def test_user_trait_unpacks_from_its_annotation() -> None:
    annotation = example()["r_user"].annotations[0]
    trait = m.UserTrait()

    assert annotation.Unpack(trait)

    assert trait.emails[0].address == "alice@example.com"
    assert trait.profile["username"] == "alice"


def test_grant_sources_map_round_trips() -> None:
    grant = m.Grant(id="g")
    grant.sources.sources["group:g1:member"].is_direct = True

    decoded = m.Grant.FromString(grant.SerializeToString())

    assert decoded.sources.sources["group:g1:member"].is_direct


def test_messages_live_outside_the_default_pool() -> None:
    # A default-pool Any cannot be mixed in: our pool has its own copy.
    assert m.Any is not any_pb2.Any
    assert m.ResourceType.DESCRIPTOR.full_name == "c1.connector.v2.ResourceType"
