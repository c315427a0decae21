"""The protobuf messages stored in a c1z file (package `c1.connector.v2`).

The descriptors are built here from the field tables of c1z-format.md §4, so
the package needs neither protoc nor generated `_pb2` modules. They live in a
private descriptor pool: another library registering its own copy of
`c1.connector.v2` in the default pool cannot clash with ours.

The pool holds its own copies of the well-known types our messages refer to.
Use the `Any`, `Struct` and `Timestamp` classes exported here (not those of
`google.protobuf.*_pb2`) when assigning to fields; they offer the same helpers
(`Any.Pack`, `Struct.update`, `Timestamp.FromDatetime`, ...).
"""

import typing
from collections.abc import Sequence

from google.protobuf import (
    any_pb2,
    descriptor_pb2,
    descriptor_pool,
    message_factory,
    struct_pb2,
    timestamp_pb2,
)

PACKAGE = "c1.connector.v2"
TYPE_URL_PREFIX = "type.googleapis.com/"

_Field = descriptor_pb2.FieldDescriptorProto
STRING = _Field.TYPE_STRING
BOOL = _Field.TYPE_BOOL
INT64 = _Field.TYPE_INT64
MESSAGE = _Field.TYPE_MESSAGE
ENUM = _Field.TYPE_ENUM
ONE = _Field.LABEL_OPTIONAL
MANY = _Field.LABEL_REPEATED

_ANY = ".google.protobuf.Any"
_STRUCT = ".google.protobuf.Struct"
_TIMESTAMP = ".google.protobuf.Timestamp"

# (name, number, type, label, type name); label and type name may be left off.
FieldSpec = tuple[typing.Any, ...]
_SPEC_DEFAULTS = (ONE, "")


def _field(spec: FieldSpec) -> descriptor_pb2.FieldDescriptorProto:
    name, number, kind, label, type_name = spec + _SPEC_DEFAULTS[len(spec) - 3 :]
    field = _Field(name=name, number=number, type=kind, label=label)
    if type_name:
        field.type_name = (
            type_name if type_name[0] == "." else f".{PACKAGE}.{type_name}"
        )
    return field


def _enum(name: str, *values: str) -> descriptor_pb2.EnumDescriptorProto:
    """An enum whose values are numbered 0, 1, 2, ... in the given order."""
    enum = descriptor_pb2.EnumDescriptorProto(name=name)
    for number, value in enumerate(values):
        enum.value.add(name=value, number=number)
    return enum


def _message(
    name: str,
    fields: Sequence[FieldSpec],
    nested: Sequence[descriptor_pb2.DescriptorProto] = (),
    enums: Sequence[descriptor_pb2.EnumDescriptorProto] = (),
) -> descriptor_pb2.DescriptorProto:
    message = descriptor_pb2.DescriptorProto(name=name)
    message.field.extend(_field(spec) for spec in fields)
    message.nested_type.extend(nested)
    message.enum_type.extend(enums)
    return message


def _map_entry(name: str, value_type: str) -> descriptor_pb2.DescriptorProto:
    entry = _message(name, [("key", 1, STRING), ("value", 2, MESSAGE, ONE, value_type)])
    entry.options.map_entry = True
    return entry


_TRAIT = _enum(
    "Trait",
    "TRAIT_UNSPECIFIED",
    "TRAIT_USER",
    "TRAIT_GROUP",
    "TRAIT_ROLE",
    "TRAIT_APP",
    "TRAIT_SECRET",
    "TRAIT_SECURITY_INSIGHT",
    "TRAIT_SCOPE_BINDING",
)

_CREATION_SOURCE = _enum(
    "CreationSource",
    "CREATION_SOURCE_UNSPECIFIED",
    "CREATION_SOURCE_CONNECTOR_LIST_RESOURCES",
    "CREATION_SOURCE_CONNECTOR_LIST_GRANTS_PRINCIPAL_JIT",
)

_PURPOSE = _enum(
    "PurposeValue",
    "PURPOSE_VALUE_UNSPECIFIED",
    "PURPOSE_VALUE_ASSIGNMENT",
    "PURPOSE_VALUE_PERMISSION",
    "PURPOSE_VALUE_OWNERSHIP",
)

_MESSAGES = [
    _message(
        "ResourceType",
        [
            ("id", 1, STRING),
            ("display_name", 2, STRING),
            ("traits", 3, ENUM, MANY, "ResourceType.Trait"),
            ("annotations", 4, MESSAGE, MANY, _ANY),
            ("description", 5, STRING),
            ("sourced_externally", 6, BOOL),
        ],
        enums=[_TRAIT],
    ),
    _message(
        "ResourceId",
        [
            ("resource_type", 1, STRING),
            ("resource", 2, STRING),
            ("baton_resource", 3, BOOL),
        ],
    ),
    _message(
        "ExternalId",
        [("id", 1, STRING), ("link", 2, STRING), ("description", 3, STRING)],
    ),
    _message(
        "Resource",
        [
            ("id", 1, MESSAGE, ONE, "ResourceId"),
            ("parent_resource_id", 2, MESSAGE, ONE, "ResourceId"),
            ("display_name", 3, STRING),
            ("annotations", 4, MESSAGE, MANY, _ANY),
            ("description", 5, STRING),
            ("baton_resource", 6, BOOL),
            ("external_id", 7, MESSAGE, ONE, "ExternalId"),
            ("creation_source", 8, ENUM, ONE, "Resource.CreationSource"),
        ],
        enums=[_CREATION_SOURCE],
    ),
    _message(
        "Entitlement",
        [
            ("resource", 1, MESSAGE, ONE, "Resource"),
            ("id", 2, STRING),
            ("display_name", 3, STRING),
            ("description", 4, STRING),
            ("grantable_to", 5, MESSAGE, MANY, "ResourceType"),
            ("annotations", 6, MESSAGE, MANY, _ANY),
            ("purpose", 7, ENUM, ONE, "Entitlement.PurposeValue"),
            ("slug", 8, STRING),
        ],
        enums=[_PURPOSE],
    ),
    _message(
        "GrantSources",
        [("sources", 1, MESSAGE, MANY, "GrantSources.SourcesEntry")],
        nested=[
            _message("GrantSource", [("is_direct", 1, BOOL)]),
            _map_entry("SourcesEntry", "GrantSources.GrantSource"),
        ],
    ),
    _message(
        "Grant",
        [
            ("entitlement", 1, MESSAGE, ONE, "Entitlement"),
            ("principal", 2, MESSAGE, ONE, "Resource"),
            ("id", 3, STRING),
            ("annotations", 4, MESSAGE, MANY, _ANY),
            ("sources", 5, MESSAGE, ONE, "GrantSources"),
        ],
    ),
    _message("AssetRef", [("id", 1, STRING)]),
    _message(
        "UserTrait",
        [
            ("emails", 1, MESSAGE, MANY, "UserTrait.Email"),
            ("status", 2, MESSAGE, ONE, "UserTrait.Status"),
            ("profile", 3, MESSAGE, ONE, _STRUCT),
            ("icon", 4, MESSAGE, ONE, "AssetRef"),
            ("account_type", 5, ENUM, ONE, "UserTrait.AccountType"),
            ("login", 6, STRING),
            ("login_aliases", 7, STRING, MANY),
            ("created_at", 8, MESSAGE, ONE, _TIMESTAMP),
            ("last_login", 9, MESSAGE, ONE, _TIMESTAMP),
            ("mfa_status", 10, MESSAGE, ONE, "UserTrait.MFAStatus"),
            ("sso_status", 11, MESSAGE, ONE, "UserTrait.SSOStatus"),
            ("structured_name", 12, MESSAGE, ONE, "UserTrait.StructuredName"),
            ("employee_ids", 13, STRING, MANY),
        ],
        nested=[
            _message("Email", [("address", 1, STRING), ("is_primary", 2, BOOL)]),
            _message(
                "Status",
                [
                    ("status", 1, ENUM, ONE, "UserTrait.Status.Status"),
                    ("details", 2, STRING),
                ],
                enums=[
                    _enum(
                        "Status",
                        "STATUS_UNSPECIFIED",
                        "STATUS_ENABLED",
                        "STATUS_DISABLED",
                        "STATUS_DELETED",
                    )
                ],
            ),
            _message("MFAStatus", [("mfa_enabled", 1, BOOL)]),
            _message("SSOStatus", [("sso_enabled", 1, BOOL)]),
            _message(
                "StructuredName",
                [
                    ("given_name", 1, STRING),
                    ("family_name", 2, STRING),
                    ("middle_names", 3, STRING, MANY),
                    ("prefix", 4, STRING),
                    ("suffix", 5, STRING),
                ],
            ),
        ],
        enums=[
            _enum(
                "AccountType",
                "ACCOUNT_TYPE_UNSPECIFIED",
                "ACCOUNT_TYPE_HUMAN",
                "ACCOUNT_TYPE_SERVICE",
                "ACCOUNT_TYPE_SYSTEM",
            )
        ],
    ),
    _message(
        "GroupTrait",
        [("icon", 1, MESSAGE, ONE, "AssetRef"), ("profile", 2, MESSAGE, ONE, _STRUCT)],
    ),
    _message("RoleScopeCondition", [("expression", 1, STRING)]),
    _message(
        "RoleScopeConditions",
        [("type", 1, STRING), ("conditions", 3, MESSAGE, MANY, "RoleScopeCondition")],
    ),
    _message(
        "RoleTrait",
        [
            ("profile", 1, MESSAGE, ONE, _STRUCT),
            ("role_scope_conditions", 2, MESSAGE, ONE, "RoleScopeConditions"),
        ],
    ),
]


def _connector_file() -> descriptor_pb2.FileDescriptorProto:
    connector = descriptor_pb2.FileDescriptorProto(
        name="baton_scim/c1z/connector_v2.proto",
        package=PACKAGE,
        syntax="proto3",
        dependency=[
            any_pb2.DESCRIPTOR.name,
            struct_pb2.DESCRIPTOR.name,
            timestamp_pb2.DESCRIPTOR.name,
        ],
    )
    connector.message_type.extend(_MESSAGES)
    return connector


def _build_pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    for well_known in (any_pb2, struct_pb2, timestamp_pb2):
        copy = descriptor_pb2.FileDescriptorProto()
        well_known.DESCRIPTOR.CopyToProto(copy)
        pool.Add(copy)

    pool.Add(_connector_file())
    return pool


POOL = _build_pool()


def message_class(full_name: str) -> typing.Any:
    """Return the class of a message of our pool, e.g. `c1.connector.v2.Grant`."""
    return message_factory.GetMessageClass(POOL.FindMessageTypeByName(full_name))


def type_url(message: typing.Any) -> str:
    """Return the `Any.type_url` under which `message` is packed."""
    full_name: str = message.DESCRIPTOR.full_name
    return TYPE_URL_PREFIX + full_name


if typing.TYPE_CHECKING:
    # The classes exist only at run time; type checkers see permissive stand-ins
    # so that the names can be used in annotations and their fields read.

    class _DynamicMeta(type):
        def __getattr__(cls, name: str) -> typing.Any: ...

    class _Dynamic(metaclass=_DynamicMeta):
        DESCRIPTOR: typing.Any

        def __init__(self, **fields: typing.Any) -> None: ...
        def __getattr__(self, name: str) -> typing.Any: ...
        def __setattr__(self, name: str, value: typing.Any) -> None: ...
        def SerializeToString(self, *, deterministic: bool = ...) -> bytes: ...
        def ParseFromString(self, data: bytes) -> int: ...
        def HasField(self, name: str) -> bool: ...
        @classmethod
        def FromString(cls, data: bytes) -> typing.Self: ...

    class Any(_Dynamic): ...

    class Struct(_Dynamic): ...

    class Value(_Dynamic): ...

    class ListValue(_Dynamic): ...

    class Timestamp(_Dynamic): ...

    class ResourceType(_Dynamic): ...

    class ResourceId(_Dynamic): ...

    class ExternalId(_Dynamic): ...

    class Resource(_Dynamic): ...

    class Entitlement(_Dynamic): ...

    class GrantSources(_Dynamic): ...

    class Grant(_Dynamic): ...

    class AssetRef(_Dynamic): ...

    class UserTrait(_Dynamic): ...

    class GroupTrait(_Dynamic): ...

    class RoleScopeCondition(_Dynamic): ...

    class RoleScopeConditions(_Dynamic): ...

    class RoleTrait(_Dynamic): ...

else:
    Any = message_class("google.protobuf.Any")
    Struct = message_class("google.protobuf.Struct")
    Value = message_class("google.protobuf.Value")
    ListValue = message_class("google.protobuf.ListValue")
    Timestamp = message_class("google.protobuf.Timestamp")
    ResourceType = message_class(f"{PACKAGE}.ResourceType")
    ResourceId = message_class(f"{PACKAGE}.ResourceId")
    ExternalId = message_class(f"{PACKAGE}.ExternalId")
    Resource = message_class(f"{PACKAGE}.Resource")
    Entitlement = message_class(f"{PACKAGE}.Entitlement")
    GrantSources = message_class(f"{PACKAGE}.GrantSources")
    Grant = message_class(f"{PACKAGE}.Grant")
    AssetRef = message_class(f"{PACKAGE}.AssetRef")
    UserTrait = message_class(f"{PACKAGE}.UserTrait")
    GroupTrait = message_class(f"{PACKAGE}.GroupTrait")
    RoleScopeCondition = message_class(f"{PACKAGE}.RoleScopeCondition")
    RoleScopeConditions = message_class(f"{PACKAGE}.RoleScopeConditions")
    RoleTrait = message_class(f"{PACKAGE}.RoleTrait")

__all__ = [
    "POOL",
    "TYPE_URL_PREFIX",
    "Any",
    "AssetRef",
    "Entitlement",
    "ExternalId",
    "Grant",
    "GrantSources",
    "GroupTrait",
    "ListValue",
    "Resource",
    "ResourceId",
    "ResourceType",
    "RoleScopeCondition",
    "RoleScopeConditions",
    "RoleTrait",
    "Struct",
    "Timestamp",
    "UserTrait",
    "Value",
    "message_class",
    "type_url",
]
