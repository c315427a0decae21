"""SCIM JSON to records, through the JSONPath expressions of a description.

A missing attribute maps to empty and never fails the sync; a value of the
wrong type is coerced where its meaning is certain (``"false"`` for a
boolean, a number for an ID) and logged at debug.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from .config import ProviderConfig
from .jsonpath import Getter, JsonPath, compile_path
from .records import GroupRecord, GroupRef, MemberRef, RoleRef, UserRecord

logger = logging.getLogger(__name__)

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True, slots=True)
class _ListPaths:
    """A list on a resource and the fields read from each of its items."""

    path: JsonPath
    fields: dict[str, JsonPath | None]

    def getters(self, *names: str) -> tuple[Getter | None, ...]:
        """The hot-path getters of the named fields (None where unset)."""
        return tuple(
            None if (path := self.fields[name]) is None else path.get for name in names
        )


class Mapper:
    """Every JSONPath of a description, compiled once for a whole run."""

    def __init__(self, config: ProviderConfig) -> None:
        user, group = config.user, config.group
        self.user_id = compile_path(user.id, key="user.id")
        self.user_name = compile_path(user.user_name, key="user.userName")
        self.first_name = compile_path(user.first_name, key="user.firstName")
        self.last_name = compile_path(user.last_name, key="user.lastName")
        self.primary_email = compile_path(user.primary_email, key="user.primaryEmail")
        self.first_email = _optional(user.first_email, "user.firstEmail")
        self.active = compile_path(user.active, key="user.active")
        self.display_name = _optional(user.display_name, "user.displayName")
        self.roles = self._roles(config)
        self._role_getters = (
            self.roles.getters("value", "display", "type") if self.roles else ()
        )
        self.user_groups = self._user_groups(config)
        self.group_id = compile_path(group.id, key="group.id")
        self.group_name = compile_path(group.display_name, key="group.displayName")
        self.members = self._members(config)

    @staticmethod
    def _roles(config: ProviderConfig) -> _ListPaths | None:
        roles = config.user.roles
        if roles is None:
            return None
        return _ListPaths(
            compile_path(roles.path, key="user.roles.path"),
            {
                "value": compile_path(roles.name, key="user.roles.name"),
                "display": _optional(roles.display, "user.roles.display"),
                "type": _optional(roles.type, "user.roles.type"),
            },
        )

    @staticmethod
    def _user_groups(config: ProviderConfig) -> _ListPaths | None:
        mapping = config.user.user_group
        if not config.user.has_groups_on_user or mapping is None:
            return None
        return _ListPaths(
            compile_path(mapping.path, key="user.userGroup.path"),
            {
                "name": compile_path(mapping.name, key="user.userGroup.name"),
                "id": _optional(mapping.id, "user.userGroup.id"),
            },
        )

    @staticmethod
    def _members(config: ProviderConfig) -> _ListPaths | None:
        members = config.group.members
        if members is None:
            return None
        return _ListPaths(
            compile_path(members.path, key="group.members.path"),
            {
                "id": compile_path(members.id, key="group.members.id"),
                "display": _optional(members.display_name, "group.members.displayName"),
                "type": _optional(members.type or "type", "group.members.type"),
            },
        )

    def user(self, resource: dict[str, Any]) -> UserRecord | None:
        """Map one SCIM user; None when it has no usable ID."""
        user_id = as_id(self.user_id.get(resource))
        if not user_id:
            logger.debug("skipping a user without an id: keys %s", sorted(resource))
            return None

        first = as_text(self.first_name.get(resource))
        last = as_text(self.last_name.get(resource))
        user_name = as_text(self.user_name.get(resource))
        email = as_text(self.primary_email.get(resource))
        if not email and self.first_email is not None:
            email = as_text(self.first_email.get(resource))

        return UserRecord(
            user_id,
            user_name,
            first,
            last,
            email,
            as_bool(self.active.get(resource), default=True),
            self._display(resource, first, last, user_name),
            self._read_roles(resource),
            self._read_groups(resource),
        )

    def _display(
        self, resource: dict[str, Any], first: str, last: str, login: str
    ) -> str:
        # The Go connector always shows "<first> <last>"; keep that, and fall
        # back to displayName, then userName, only when both are missing.
        if first or last:
            return f"{first} {last}".strip()
        if self.display_name is not None:
            shown = as_text(self.display_name.get(resource))
            if shown:
                return shown
        return login

    def _read_roles(self, resource: dict[str, Any]) -> list[RoleRef]:
        if self.roles is None:
            return []
        items = _items(self.roles.path, resource)
        if not items:
            return []
        value_of, display_of, type_of = self._role_getters
        roles = []
        for item in items:
            value = as_text(_read(value_of, item))
            display = as_text(_read(display_of, item)) or None
            if value or display:
                kind = as_text(_read(type_of, item)) or None
                roles.append(RoleRef(value or (display or ""), display, kind))
        return roles

    def _read_groups(self, resource: dict[str, Any]) -> list[GroupRef]:
        if self.user_groups is None:
            return []
        id_of, name_of = self.user_groups.getters("id", "name")
        groups = []
        for item in _items(self.user_groups.path, resource):
            group_id = as_id(_read(id_of, item)) or None
            name = as_text(_read(name_of, item)) or None
            if group_id or name:
                groups.append(GroupRef(group_id, name))
        return groups

    def group(self, resource: dict[str, Any]) -> GroupRecord | None:
        """Map one SCIM group; None when it has no usable ID."""
        group_id = as_id(self.group_id.get(resource))
        if not group_id:
            logger.debug("skipping a group without an id: keys %s", sorted(resource))
            return None
        name = as_text(self.group_name.get(resource)) or group_id
        return GroupRecord(group_id, name, self._read_members(resource))

    def _read_members(self, resource: dict[str, Any]) -> list[MemberRef]:
        if self.members is None:
            return []
        id_of, display_of, type_of = self.members.getters("id", "display", "type")
        members = []
        for item in _items(self.members.path, resource):
            member_id = as_id(_read(id_of, item))
            if member_id:
                display = as_text(_read(display_of, item)) or None
                kind = as_text(_read(type_of, item)) or None
                members.append(MemberRef(member_id, display, kind))
        return members


def _optional(expression: str | None, key: str) -> JsonPath | None:
    return compile_path(expression, key=key) if expression else None


def _items(path: JsonPath, resource: dict[str, Any]) -> list[Any]:
    if path.plain:
        # At most one value: the list itself, one object, or nothing.
        value = path.get(resource)
        if value is None:
            return []
        return value if isinstance(value, list) else [value]
    found = path.all(resource)
    if len(found) == 1 and isinstance(found[0], list):
        return found[0]
    return [item for item in found if item is not None]


def _read(get: Getter | None, item: Any) -> Any:
    if get is None:
        return None
    if not isinstance(item, dict):
        return item  # a list of plain strings: the item is the value
    return get(item)


def as_text(value: Any) -> str:
    """A string attribute; numbers become their decimal text, None empty."""
    if value.__class__ is str:
        return value
    if value is None or isinstance(value, dict | list):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if isinstance(value, str) else str(value)


def as_id(value: Any) -> str:
    """An identifier: strings as they are, numbers in decimal."""
    if value.__class__ is str:
        return value.strip()
    text = as_text(value).strip()
    if text and not isinstance(value, str):
        logger.debug("coerced a %s identifier to text", type(value).__name__)
    return text


def as_bool(value: Any, *, default: bool) -> bool:
    """A boolean attribute; "true"/"false" strings and 0/1 are coerced."""
    if isinstance(value, bool):
        return value
    if value is None:
        return default
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        logger.debug("coerced %r to a boolean", value)
        return text in _TRUE
    logger.debug("unreadable boolean %r; using %s", value, default)
    return default
