"""What the sync reads out of SCIM JSON: plain records, independent of c1z.

Mapping hooks turn one raw SCIM user or group into these records; the sync
turns records into Baton resources, entitlements and grants.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class RoleRef:
    """A role held by a user: its value, and the display name when given."""

    value: str
    display: str | None = None
    type: str | None = None

    @property
    def name(self) -> str:
        """The role's shown name: the display name, else the value."""
        return self.display or self.value

    @property
    def id(self) -> str:
        """The Baton role ID: snake_case of the shown name (the Go rule)."""
        return snake_case(self.name)


@dataclass(slots=True)
class GroupRef:
    """A group listed on a user object (Zoom): an ID, a name, or both."""

    id: str | None
    name: str | None = None


@dataclass(slots=True)
class UserRecord:
    """One SCIM user, as the sync needs it."""

    id: str
    user_name: str = ""
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    active: bool = True
    display_name: str = ""
    roles: list[RoleRef] = field(default_factory=list)
    groups: list[GroupRef] = field(default_factory=list)


@dataclass(slots=True)
class MemberRef:
    """A member listed on a group object."""

    id: str
    display: str | None = None
    type: str | None = None

    @property
    def is_group(self) -> bool:
        return (self.type or "").lower() == "group"


@dataclass(slots=True)
class GroupRecord:
    """One SCIM group, with its members when the listing carries them."""

    id: str
    display_name: str = ""
    members: list[MemberRef] = field(default_factory=list)


def snake_case(text: str) -> str:
    """Lower snake_case, splitting where letter case or digits change.

    This reproduces the role IDs of the Go connector, so that a team moving
    from it sees the same IDs: ``SuperAdmin`` -> ``super_admin``,
    ``Tier2 Support`` -> ``tier_2_support``, ``Workspace Admin`` ->
    ``workspace_admin``. Spaces, dots, dashes and underscores become ``_``;
    other characters (non-ASCII included) are kept as they are.
    """
    text = text.strip()
    out: list[str] = []
    for i, char in enumerate(text):
        nxt = text[i + 1] if i + 1 < len(text) else ""
        out.append(_snake_piece(char, nxt, text[i - 1] if i else ""))
    return "".join(out)


def _kind(char: str) -> str:
    if "A" <= char <= "Z":
        return "upper"
    if "a" <= char <= "z":
        return "lower"
    if "0" <= char <= "9":
        return "digit"
    return ""


def _snake_piece(char: str, nxt: str, prev: str) -> str:
    if char in " _-.":
        return "_"
    kind, next_kind = _kind(char), _kind(nxt)
    lowered = char.lower() if kind == "upper" else char
    if not kind or not next_kind or kind == next_kind:
        return lowered
    if kind == "upper" and next_kind == "lower":
        return f"_{lowered}" if _kind(prev) == "upper" else lowered
    if kind == "upper" and next_kind == "digit":
        return f"{lowered}_"
    return f"{lowered}_"
