"""Records to Baton objects: resource types, resources, entitlements, grants.

The shapes follow the Go connector exactly, so that a team switching from
it sees no change: user and group IDs are the SCIM ``id``, role IDs are the
snake_case of the role name, every group and role has one ``member``
entitlement, and grant IDs are ``<entitlement>:<principal type>:<id>``.

A sync of 100k users writes a few hundred thousand users and grants, so
those two are also built directly as protobuf wire bytes (``*_data``,
``GrantTarget``): the same bytes as the messages above serialized with
``deterministic=True`` (map keys in ascending order), at a fraction of the
cost. tests/test_baton_wire.py holds the two forms to each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .c1z import messages as pb
from .records import GroupRecord, RoleRef, UserRecord

TRAIT_USER, TRAIT_GROUP, TRAIT_ROLE = 1, 2, 3
STATUS_ENABLED, STATUS_DISABLED = 1, 2
ACCOUNT_TYPE_HUMAN = 1
PURPOSE_ASSIGNMENT = 1
MEMBER = "member"

USER_TYPE = pb.ResourceType(id="user", display_name="User", traits=[TRAIT_USER])
GROUP_TYPE = pb.ResourceType(id="group", display_name="Group", traits=[TRAIT_GROUP])
ROLE_TYPE = pb.ResourceType(id="role", display_name="Role", traits=[TRAIT_ROLE])
RESOURCE_TYPES = (USER_TYPE, GROUP_TYPE, ROLE_TYPE)


def _packed(trait: Any) -> Any:
    wrapper = pb.Any()
    # Profile map keys in ascending order: the same directory always gives
    # the same bytes (c1z-format.md §8.6 lists its vectors so).
    wrapper.Pack(trait, deterministic=True)
    return wrapper


def _profile(values: dict[str, str]) -> Any:
    profile = pb.Struct()
    profile.update(values)
    return profile


def user_resource(user: UserRecord) -> Any:
    """The user resource: trait with email, status, login and profile."""
    login = user.email or user.user_name
    trait = pb.UserTrait(
        status=pb.UserTrait.Status(
            status=STATUS_ENABLED if user.active else STATUS_DISABLED
        ),
        profile=_profile(
            {
                "user_id": user.id,
                "login": login,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "username": user.user_name,
            }
        ),
        account_type=ACCOUNT_TYPE_HUMAN,
    )
    if user.email:
        trait.emails.add(address=user.email, is_primary=True)
    return pb.Resource(
        id=pb.ResourceId(resource_type="user", resource=user.id),
        display_name=user.display_name,
        annotations=[_packed(trait)],
    )


def group_resource(group_id: str, name: str) -> Any:
    """The group resource, with its ID and name in the profile."""
    trait = pb.GroupTrait(profile=_profile({"group_id": group_id, "group_name": name}))
    return pb.Resource(
        id=pb.ResourceId(resource_type="group", resource=group_id),
        display_name=name,
        annotations=[_packed(trait)],
    )


def group_resource_of(group: GroupRecord) -> Any:
    return group_resource(group.id, group.display_name)


def role_resource(role: RoleRef) -> Any:
    """The role resource: ID from the name, name shown as it is."""
    trait = pb.RoleTrait(profile=_profile({"role_id": role.id, "role_name": role.name}))
    return pb.Resource(
        id=pb.ResourceId(resource_type="role", resource=role.id),
        display_name=role.name,
        annotations=[_packed(trait)],
    )


def member_entitlement(resource: Any) -> Any:
    """The ``member`` entitlement of a group or role resource."""
    kind = resource.id.resource_type
    name = resource.display_name
    return pb.Entitlement(
        resource=resource,
        id=entitlement_id(kind, resource.id.resource),
        display_name=f"{name} {kind} member",
        description=f"Member of {name} {kind}",
        grantable_to=[USER_TYPE],
        purpose=PURPOSE_ASSIGNMENT,
        slug=MEMBER,
    )


def entitlement_id(resource_type: str, resource_id: str) -> str:
    return f"{resource_type}:{resource_id}:{MEMBER}"


def grant_id(entitlement: str, principal_type: str, principal_id: str) -> str:
    return f"{entitlement}:{principal_type}:{principal_id}"


def grant(resource: Any, principal: Any) -> Any:
    """A grant of a resource's ``member`` entitlement to a principal resource.

    Role grants carry the full user resource as principal and group grants
    only its ID, as the Go connector does (see ``user_principal``).
    """
    ent_id = entitlement_id(resource.id.resource_type, resource.id.resource)
    return pb.Grant(
        entitlement=pb.Entitlement(resource=resource, id=ent_id),
        principal=principal,
        id=grant_id(ent_id, principal.id.resource_type, principal.id.resource),
    )


def user_principal(user: str) -> Any:
    """A principal that names a user by ID only."""
    return pb.Resource(id=pb.ResourceId(resource_type="user", resource=user))


# --- wire bytes for the hot path -------------------------------------------
#
# Tags are (field number << 3) | wire type; every field written here is
# length-delimited (wire type 2) except the two enums and the bool (type 0).

_USER_ID = b"\x0a\x04user"  # ResourceId.resource_type = "user"
_USER_TRAIT_URL = pb.TYPE_URL_PREFIX + "c1.connector.v2.UserTrait"
_ANY_USER_TRAIT = b"\x0a" + bytes((len(_USER_TRAIT_URL),)) + _USER_TRAIT_URL.encode()
_STATUS = (b"\x12\x02\x08\x02", b"\x12\x02\x08\x01")  # disabled, enabled
_HUMAN = b"\x28\x01"  # UserTrait.account_type = ACCOUNT_TYPE_HUMAN
_SMALL = 128  # below this a length is one varint byte
_VARINTS = 4096  # lengths below this come from a table


def _varint(size: int) -> bytes:
    """A length as a protobuf varint."""
    out = bytearray()
    while size >= 0x80:
        out.append((size & 0x7F) | 0x80)
        size >>= 7
    out.append(size)
    return bytes(out)


_LENGTHS = tuple(_varint(size) for size in range(_VARINTS))


def _length(size: int) -> bytes:
    return _LENGTHS[size] if size < _VARINTS else _varint(size)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: tag, length, payload."""
    size = len(payload)
    return tag + (_LENGTHS[size] if size < _VARINTS else _varint(size)) + payload


def _text(tag: bytes, text: str) -> bytes:
    """A proto3 string field; the empty string is not written."""
    return _field(tag, text.encode()) if text else b""


def _profile_entry(key: bytes, value: bytes) -> bytes:
    """One Struct map entry: ``key`` is its encoded key field, value a string.

    Value.string_value (field 3) is in a oneof, so it is written even when
    empty; short values (nearly all) take the one-format path.
    """
    size = len(value)
    if size + len(key) < _SMALL - 4:
        return b"\x0a%c%s\x12%c\x1a%c%s" % (
            size + len(key) + 4,
            key,
            size + 2,
            size,
            value,
        )
    return _field(b"\x0a", key + _field(b"\x12", _field(b"\x1a", value)))


def _key(name: str) -> bytes:
    return b"\x0a" + bytes((len(name),)) + name.encode()


# Struct map entries go in ascending key order, as deterministic output
# sorts them: first_name, last_name, login, user_id, username.
_PROFILE_KEYS = tuple(
    _key(name) for name in ("first_name", "last_name", "login", "user_id", "username")
)


# The five profile entries of a user with short values (the usual case),
# in one format: entry length, Value length, string length, string.
_SHORT_VALUE = 100
_SHORT_PROFILE = (
    b"\x0a%c\x0a\x0afirst_name\x12%c\x1a%c%s"
    b"\x0a%c\x0a\x09last_name\x12%c\x1a%c%s"
    b"\x0a%c\x0a\x05login\x12%c\x1a%c%s"
    b"\x0a%c\x0a\x07user_id\x12%c\x1a%c%s"
    b"\x0a%c\x0a\x08username\x12%c\x1a%c%s"
)


def user_resource_data(user: UserRecord) -> bytes:
    """The serialized ``user_resource(user)``."""
    user_id, user_name = user.id.encode(), user.user_name.encode()
    first, last = user.first_name.encode(), user.last_name.encode()
    email, display = user.email.encode(), user.display_name.encode()
    values = (first, last, email or user_name, user_id, user_name)
    longest = max(len(user_id), len(user_name), len(first), len(last), len(email))
    if longest < _SHORT_VALUE and len(display) < _SHORT_VALUE:
        return _short_user_data(values, email, display, user.active)

    profile = b"".join(map(_profile_entry, _PROFILE_KEYS, values))
    trait = _STATUS[bool(user.active)] + _field(b"\x1a", profile) + _HUMAN
    if email:
        trait = _field(b"\x0a", _field(b"\x0a", email) + b"\x10\x01") + trait
    shown = _field(b"\x1a", display) if display else b""
    return (
        _field(b"\x0a", _USER_ID + _field(b"\x12", user_id))
        + shown
        + _field(b"\x22", _ANY_USER_TRAIT + _field(b"\x12", trait))
    )


def _short_user_data(
    values: tuple[bytes, ...], email: bytes, display: bytes, active: bool
) -> bytes:
    """``user_resource_data`` when no value reaches ``_SHORT_VALUE`` bytes.

    Every length then stays below ``_VARINTS``, so lengths come straight
    from the table and the profile from one format.
    """
    first, last, login, user_id, user_name = values
    n_first, n_last, n_login = len(first), len(last), len(login)
    n_id, n_name = len(user_id), len(user_name)
    profile = _SHORT_PROFILE % (
        n_first + 16, n_first + 2, n_first, first,
        n_last + 15, n_last + 2, n_last, last,
        n_login + 11, n_login + 2, n_login, login,
        n_id + 13, n_id + 2, n_id, user_id,
        n_name + 14, n_name + 2, n_name, user_name,
    )  # fmt: skip
    trait = _STATUS[bool(active)] + b"\x1a" + _LENGTHS[len(profile)] + profile + _HUMAN
    if email:
        trait = b"\x0a%c\x0a%c%s\x10\x01" % (len(email) + 4, len(email), email) + trait
    packed = _ANY_USER_TRAIT + b"\x12" + _LENGTHS[len(trait)] + trait
    head = b"\x0a%c\x0a\x04user\x12%c%s" % (n_id + 8, n_id, user_id)
    if display:
        head += b"\x1a%c%s" % (len(display), display)
    return head + b"\x22" + _LENGTHS[len(packed)] + packed


def user_principal_data(user: str) -> bytes:
    """The serialized ``user_principal(user)``."""
    return _field(b"\x0a", _USER_ID + _text(b"\x12", user))


@dataclass(frozen=True, slots=True)
class GrantTarget:
    """A group or role whose ``member`` entitlement is granted, pre-serialized.

    ``head`` is the Grant's entitlement field, the same for every grant on
    the resource, so a grant costs two concatenations.
    """

    resource_type: str
    resource_id: str
    entitlement_id: str
    head: bytes

    @classmethod
    def of(cls, resource: Any) -> GrantTarget:
        """The target for a group or role resource message."""
        kind, rid = resource.id.resource_type, resource.id.resource
        ent_id = entitlement_id(kind, rid)
        entitlement = _field(
            b"\x0a", resource.SerializeToString(deterministic=True)
        ) + _text(b"\x12", ent_id)
        return cls(kind, rid, ent_id, _field(b"\x0a", entitlement))

    def grant_id(self, principal_type: str, principal_id: str) -> str:
        """The grant ID for a principal, as ``grant_id`` makes it."""
        return f"{self.entitlement_id}:{principal_type}:{principal_id}"

    def grant_data(self, principal: bytes, grant_id: str) -> bytes:
        """The serialized ``grant(resource, principal)`` with this ID."""
        return (
            self.head + _field(b"\x12", principal) + _field(b"\x1a", grant_id.encode())
        )
