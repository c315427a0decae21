"""Grant and revoke: group membership and role assignment over SCIM.

One change goes like this. The entitlement, grant and principal are looked
up in the latest sync of the c1z file, as Baton does; the file is only
read. The target is read from the service: the group for a membership, the
user for a role. When it already is as asked, nothing is sent. Otherwise
the provisioning hook builds the request (by default from the
description's ``provisioning`` section) and it is sent once.

A request that writes a whole list back (a PUT, or a PatchOp ``replace`` of
a whole attribute) carries ``If-Match`` with the version just read (RFC 7644
§3.14), so a change someone else made in between is never written over: the
service answers 412, the target is read again and the request rebuilt, a
bounded number of times. Without a version, such a rewrite is refused
unless the description sets ``acceptUnversionedReplace``. A revoke that
would remove anything besides its one value is never sent, whoever built it.
"""

from __future__ import annotations

import copy
import itertools
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn
from urllib.parse import quote

from .c1z import C1zReader
from .c1z.errors import C1zError as C1zFileError
from .config import PatchOperation
from .errors import (
    C1zError,
    ProtocolError,
    ProvisioningError,
    ProvisioningRefused,
    ServiceError,
    TransportError,
)
from .http import ScimClient, close_after
from .mapping import as_id
from .provider import ProviderContext
from .records import RoleRef

if TYPE_CHECKING:
    from .settings import Settings

logger = logging.getLogger(__name__)

Action = Literal[
    "add_user_to_group", "remove_user_from_group", "add_user_role", "remove_user_role"
]
Kind = Literal["grant", "revoke"]

#: How often a change is tried when the service keeps answering 412.
MAX_ATTEMPTS = 5
#: How many other holders of a role are read to learn its SCIM value.
ROLE_HOLDERS_TRIED = 3

ACTIONS: dict[tuple[str, str], Action] = {
    ("grant", "group"): "add_user_to_group",
    ("revoke", "group"): "remove_user_from_group",
    ("grant", "role"): "add_user_role",
    ("revoke", "role"): "remove_user_role",
}
YAML_KEYS: dict[Action, str] = {
    "add_user_to_group": "addUserToGroup",
    "remove_user_from_group": "removeUserFromGroup",
    "add_user_role": "addUserRole",
    "remove_user_role": "removeUserRole",
}
_ATTRIBUTE = re.compile(r"^[A-Za-z$][\w$-]*$")


# -- The hook's contract --------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One access change, as handed to ``baton_scim_provisioning_request``.

    ``current`` is the target (the group; the user for a role) as read just
    before, and ``version`` its ETag or ``meta.version`` (None when the
    service gives none). The executor reads the target before every change,
    so ``current`` is always there: a request that writes a list back (a
    PUT, or a PatchOp replace) starts from it, and the executor adds
    ``If-Match: version`` to such a request when the hook did not.
    """

    action: Action
    user_id: str
    operation: PatchOperation
    group_id: str | None = None
    role: RoleRef | None = None
    current: dict[str, Any] | None = None
    version: str | None = None

    @property
    def is_grant(self) -> bool:
        """True for an addition, False for a removal."""
        return self.action.startswith("add")

    @property
    def rewrites_list(self) -> bool:
        """Whether the description's shape writes the list back (replace, PUT)."""
        return self.operation.op.lower() == "replace" or self.operation.method == "PUT"

    @property
    def value(self) -> str:
        """The value added or removed: the user's ID, or the role's value."""
        if self.role is not None:
            return self.role.value
        return self.user_id

    @property
    def target_path(self) -> str:
        """The resource the request is sent to."""
        if self.action.endswith("group"):
            return f"Groups/{quote(self.group_id or '', safe='')}"
        return f"Users/{quote(self.user_id, safe='')}"

    @property
    def yaml_key(self) -> str:
        """The description key of this action, for messages."""
        return f"provisioning.{YAML_KEYS[self.action]}"


@dataclass(frozen=True)
class ProvisioningRequest:
    """The HTTP request that carries out one change."""

    method: str
    path: str
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


# -- The default request shapes -----------------------------------------------------


def default_request(provider: ProviderContext, change: Change) -> ProvisioningRequest:
    """The RFC 7644 request for a change, shaped by the description."""
    operation = change.operation
    _check_op(change)
    if change.rewrites_list:
        return _rewrite_request(provider, change)

    if change.is_grant:
        entry = _entry(provider, change)
        ops = [{"op": "add", "path": operation.path, "value": [entry]}]
    else:
        ops = [_remove_operation(change)]
    body = {"schemas": operation.schema_list, "Operations": ops}
    return ProvisioningRequest(operation.method, change.target_path, body)


def _check_op(change: Change) -> None:
    op = change.operation.op.lower()
    allowed = ("add", "replace") if change.is_grant else ("remove", "replace")
    if op not in allowed:
        raise ProvisioningRefused(
            f"{change.yaml_key}.op: {change.operation.op!r} cannot "
            f"{'add' if change.is_grant else 'remove'} a value",
            hint=f"use op: {' or '.join(allowed)}",
        )


def _remove_operation(change: Change) -> dict[str, Any]:
    operation = change.operation
    if operation.remove_form == "valueList":
        # The non-standard form some services take (Entra, authentik).
        value = [{operation.value_path: change.value}]
        return {"op": "remove", "path": operation.path, "value": value}
    # RFC 7644 §3.5.2.2: a value filter removes that one value, never the list.
    selector = f'{operation.value_path} eq "{_escape(change.value)}"'
    return {"op": "remove", "path": f"{operation.path}[{selector}]"}


def _rewrite_request(provider: ProviderContext, change: Change) -> ProvisioningRequest:
    """Replace the whole list (PATCH) or resource (PUT), guarded by If-Match."""
    operation = change.operation
    items = _list_at(change, operation.path)
    if change.is_grant:
        items = [*items, _entry(provider, change)]
    else:
        items = [
            i for i in items if _item_value(i, operation.value_path) != change.value
        ]
    headers = {"If-Match": change.version} if change.version else {}

    if operation.method == "PUT":
        # RFC 7644 §3.5.1: PUT carries the whole resource; meta is read-only.
        body = copy.deepcopy(change.current or {})
        body.pop("meta", None)
        body[_key(body, operation.path)] = items
    else:
        ops = [{"op": "replace", "path": operation.path, "value": items}]
        body = {"schemas": operation.schema_list, "Operations": ops}
    return ProvisioningRequest(operation.method, change.target_path, body, headers)


def _entry(provider: ProviderContext, change: Change) -> dict[str, Any]:
    """The list item added: the value, plus a role's display name and type.

    The display name goes along so that the next sync derives the same role
    ID (snake_case of the display name) as before the grant.
    """
    entry: dict[str, Any] = {change.operation.value_path: change.value}
    roles = provider.config.user.roles
    if change.role is None or roles is None:
        return entry
    for key, value in (
        (roles.display, change.role.display),
        (roles.type, change.role.type),
    ):
        if key and value and _ATTRIBUTE.match(key):
            entry[key] = value
    return entry


def _escape(value: str) -> str:
    # RFC 7644 §3.4.2.2: a filter's string literal is JSON-escaped.
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _list_at(change: Change, path: str) -> list[Any]:
    """The list a rewrite starts from; an absent attribute is an empty list."""
    found = find_list(change.current or {}, path)
    if found is None and not _is_list_path(path):
        raise ProvisioningRefused(
            f"{change.yaml_key}.path: {path!r} is not a list attribute that "
            f"{change.operation.op} can write back",
            hint="name the list (e.g. members or roles), or use op: remove",
        )
    if found is not None and not isinstance(found, list):
        raise ProtocolError(
            f"GET {change.target_path}: {path} is not a list",
            hint=f"check {change.yaml_key}.path",
        )
    return list(found or [])


def find_list(resource: dict[str, Any], path: str) -> Any:
    """The value at a plain or extension attribute path, or None."""
    if not _is_list_path(path):
        return None
    urn, _, name = path.rpartition(":")
    holder: Any = resource.get(_key(resource, urn)) if urn else resource
    if not isinstance(holder, dict):
        return None
    return holder.get(_key(holder, name))


def _is_list_path(path: str) -> bool:
    return bool(_ATTRIBUTE.match(path.rpartition(":")[2]))


def _key(mapping: dict[str, Any], name: str) -> str:
    # RFC 7643 §2.1: attribute names are case-insensitive.
    for key in mapping:
        if key.lower() == name.lower():
            return key
    return name


def _item_value(item: Any, value_path: str) -> str:
    """The value of a list item as text; numbers in decimal (Zoom's IDs)."""
    if isinstance(item, dict):
        return as_id(item.get(_key(item, value_path)))
    return as_id(item)


# -- The safety net ------------------------------------------------------------


def check_request(change: Change, request: ProvisioningRequest) -> None:
    """Refuse a revoke request that would remove more than the one value.

    Whatever built the request (the default shapes or a plugin), a revoke
    never sends an unfiltered remove, nor writes a list back without
    someone else in it. Grants are not checked: on a provider where a user
    holds one role at a time, granting one replaces the other.
    """
    body = request.body
    if change.is_grant or not isinstance(body, dict):
        return
    operations = body.get("Operations")
    if isinstance(operations, list):
        for operation in operations:
            if isinstance(operation, dict):
                _check_operation(change, operation)
    elif request.method.upper() == "PUT":
        path = change.operation.path
        _check_rewrite(change, path, find_list(body, path))


def _check_operation(change: Change, operation: dict[str, Any]) -> None:
    op = str(operation.get("op", "")).lower()
    path = str(operation.get("path") or "")
    value = operation.get("value")
    if op == "remove" and "[" not in path:
        # RFC 7644 §3.5.2.2: remove without a filter clears the whole list.
        items = value if isinstance(value, list) else [value] if value else []
        removed = _values_of(items, change.operation.value_path)
        if removed != {change.value}:
            raise _refused_request(change, f"removes {_listed(removed)} from {path}")
    if op == "replace":
        _check_rewrite(change, path, value)


def _check_rewrite(change: Change, path: str, value: Any) -> None:
    before = find_list(change.current or {}, path)
    if not isinstance(value, list) or not isinstance(before, list):
        return
    value_path = change.operation.value_path
    lost = _values_of(before, value_path) - _values_of(value, value_path)
    lost.discard(change.value)
    if lost:
        raise _refused_request(change, f"drops {_listed(lost)} from {path}")


def _values_of(items: list[Any], value_path: str) -> set[str]:
    return {_item_value(item, value_path) for item in items}


def _listed(values: set[str]) -> str:
    if not values:
        return "every value"
    return ", ".join(sorted(repr(v) for v in values))


def _refused_request(change: Change, what: str) -> ProvisioningError:
    return ProvisioningError(
        f"refusing to send {change.operation.method} {change.target_path}: "
        f"the request {what}, not just {change.value!r}",
        hint=f"fix {change.yaml_key} or the provider plugin that built the request",
    )


# -- What the c1z file names ----------------------------------------------------------


@dataclass(frozen=True)
class AccessRef:
    """One membership or role assignment, named by the IDs of the c1z file."""

    entitlement_id: str
    resource_type: str
    resource_id: str
    resource_name: str
    user_id: str
    holders: tuple[str, ...] = ()

    @property
    def grant_id(self) -> str:
        """The Baton grant ID of this assignment."""
        return f"{self.entitlement_id}:user:{self.user_id}"


def find_grant(
    path: Path, entitlement_id: str, principal_id: str, principal_type: str | None
) -> AccessRef:
    """Look up an entitlement and a user in the latest sync, as Baton does."""
    _require_user_type(principal_type)
    with _latest_sync(path) as (reader, sync_id):
        entitlement = reader.entitlement(entitlement_id, sync_id)
        if entitlement is None:
            raise ProvisioningRefused(
                f"entitlement {entitlement_id!r} is not in the latest sync of {path}",
                hint="take an ID such as group:<id>:member from "
                "'baton entitlements -f FILE', or run a sync first",
            )
        if reader.resource("user", principal_id, sync_id) is None:
            raise ProvisioningRefused(
                f"user {principal_id!r} is not in the latest sync of {path}",
                hint="take a user ID from 'baton resources -f FILE -t user', "
                "or run a sync first",
            )
        return _access(reader, sync_id, entitlement, principal_id)


def find_revoke(path: Path, grant_id: str) -> AccessRef:
    """Look up a grant, its entitlement and its principal in the latest sync."""
    with _latest_sync(path) as (reader, sync_id):
        grant = reader.grant(grant_id, sync_id)
        if grant is None:
            raise ProvisioningRefused(
                f"grant {grant_id!r} is not in the latest sync of {path}",
                hint="take an ID such as group:<id>:member:user:<id> from "
                "'baton grants -f FILE'; a grant made since needs a sync first",
            )
        _require_user_type(grant.principal.id.resource_type)
        entitlement = reader.entitlement(grant.entitlement.id, sync_id)
        if entitlement is None:
            raise C1zError(
                f"{path}: grant {grant_id!r} names entitlement "
                f"{grant.entitlement.id!r}, which the file does not hold",
                hint="run a new sync into the file",
            )
        return _access(reader, sync_id, entitlement, grant.principal.id.resource)


def _require_user_type(principal_type: str | None) -> None:
    if principal_type == "user":
        return
    if not principal_type:
        raise ProvisioningRefused(
            "--grant-principal-type is missing",
            hint="add --grant-principal-type user",
        )
    raise ProvisioningRefused(
        f"principal type {principal_type!r} cannot hold access here: "
        "only users are granted group memberships and roles",
        hint="use --grant-principal-type user with a user ID",
    )


def _access(
    reader: C1zReader, sync_id: str, entitlement: Any, user_id: str
) -> AccessRef:
    resource = entitlement.resource
    kind, resource_id = resource.id.resource_type, resource.id.resource
    if kind not in ("group", "role"):
        raise ProvisioningRefused(
            f"entitlement {entitlement.id!r} is on a {kind}: only group and "
            "role memberships can be granted or revoked",
            hint="take a group:<id>:member or role:<id>:member entitlement",
        )
    holders: tuple[str, ...] = ()
    if kind == "role":
        holders = _holders(reader, sync_id, entitlement.id, user_id)
    name = resource.display_name or resource_id
    return AccessRef(entitlement.id, kind, resource_id, name, user_id, holders)


def _holders(
    reader: C1zReader, sync_id: str, entitlement_id: str, user_id: str
) -> tuple[str, ...]:
    """A few other users that held a role, to learn its SCIM value from."""
    grants = reader.grants(sync_id, entitlement_id=entitlement_id)
    others = (g.principal.id.resource for g in grants)
    wanted = (uid for uid in others if uid != user_id)
    return tuple(itertools.islice(wanted, ROLE_HOLDERS_TRIED))


@contextmanager
def _latest_sync(path: Path) -> Iterator[tuple[C1zReader, str]]:
    """The reader and the latest finished sync of a c1z file (read only)."""
    try:
        with C1zReader(path) as reader:
            sync_id = reader.latest_sync_id()
            if sync_id is None:
                raise C1zError(
                    f"{path}: the file holds no finished sync",
                    hint="run a sync into it first",
                )
            yield reader, sync_id
    except C1zFileError as error:
        raise C1zError(
            str(error), hint="pass the c1z file of a finished sync with -f"
        ) from None


# -- Carrying a change out ----------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What a grant or revoke did."""

    kind: Kind
    ref: AccessRef
    changed: bool

    @property
    def line(self) -> str:
        """One line for people and scripts, the verb first."""
        entitlement, user = self.ref.entitlement_id, f"user:{self.ref.user_id}"
        if self.kind == "grant" and self.changed:
            return f"granted {entitlement} to {user}"
        if self.kind == "grant":
            return f"already granted: {user} already has {entitlement}; nothing changed"
        if self.changed:
            return f"revoked {entitlement} from {user}"
        return f"already revoked: {user} does not have {entitlement}; nothing changed"


@dataclass(frozen=True)
class _Target:
    """The target as just read, and whether the user holds the access."""

    current: dict[str, Any]
    version: str | None
    holds: bool | None
    role: RoleRef | None = None


async def carry_out(
    context: ProviderContext, settings: Settings, kind: Kind, ref: AccessRef
) -> Outcome:
    """Open a client on the service and carry out one grant or revoke."""
    source = _source(context, settings)
    client = ScimClient(
        context,
        context.options["auth"],
        timeout=settings.http_timeout_seconds,
        transport=settings.transport,
        verify=settings.verify,
    )
    done: str | None = None
    try:
        outcome = await Provisioner(context, client, source).run(kind, ref)
        done = f"the {kind} was carried out ({outcome.line})"
        return outcome
    finally:
        await close_after(client, done)


def check_available(
    context: ProviderContext, settings: Settings, kind: Kind, named_id: str
) -> None:
    """Refuse, before the c1z file is read, an action the provider lacks.

    Baton IDs of this connector start with the resource type (``group:``,
    ``role:``), which tells the action; other IDs are left to the lookup.
    """
    action = ACTIONS.get((kind, named_id.partition(":")[0]))
    if action is not None:
        operation_for(context, action, _source(context, settings))


def _source(context: ProviderContext, settings: Settings) -> str:
    return str(settings.scim_config or context.provider.source)


def operation_for(
    context: ProviderContext, action: Action, source: str
) -> PatchOperation:
    """The description's request shape for an action; refuses when missing."""
    key = f"provisioning.{YAML_KEYS[action]}"
    section = context.config.provisioning
    operation: PatchOperation | None = getattr(section, action, None)
    if operation is not None:
        return operation

    if action.endswith("role") and context.config.user.roles is None:
        _refuse_roleless(context, action, key)
    if section is None:
        raise ProvisioningRefused(
            f"the provider description has no provisioning section, so it has no {key}",
            hint=f"add {key} with op, path and valuePath to {source}",
        )
    raise ProvisioningRefused(
        f"the provider description has no {key}",
        hint=f"add {key} with op, path and valuePath to {source}",
    )


def _refuse_roleless(context: ProviderContext, action: Action, key: str) -> NoReturn:
    """A provider whose description maps no roles has none to change."""
    verb = "granted" if action.startswith("add") else "revoked"
    raise ProvisioningRefused(
        f"the {context.name} provider has no roles (its description maps no "
        f"user.roles), so no role can be {verb} through it",
        hint="change roles in the service itself, or pass --scim-config with a "
        f"description that maps user.roles and has {key}",
    )


class Provisioner:
    """Carries out grants and revokes against one service."""

    def __init__(
        self, context: ProviderContext, client: ScimClient, source: str
    ) -> None:
        self.context = context
        self.client = client
        self.source = source
        self._role: RoleRef | None = None

    async def run(self, kind: Kind, ref: AccessRef) -> Outcome:
        """Grant or revoke; send nothing when the service already is as asked."""
        action = ACTIONS[(kind, ref.resource_type)]
        operation = operation_for(self.context, action, self.source)
        try:
            return await self._attempts(kind, action, operation, ref)
        except ServiceError as error:
            raise explained(error, kind, ref, action) from None
        except TransportError as error:
            raise TransportError(
                f"{_failed(kind, ref)}: {error.message}",
                hint="the change may or may not have been made; run the same "
                "command again: it reads first and says when nothing is left to do",
            ) from None

    async def _attempts(
        self, kind: Kind, action: Action, operation: PatchOperation, ref: AccessRef
    ) -> Outcome:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            outcome = await self._attempt(kind, action, operation, ref)
            if outcome is not None:
                return outcome
            logger.info(
                "%s: the target changed between read and write (attempt %d of %d)",
                ref.grant_id,
                attempt,
                MAX_ATTEMPTS,
            )

        raise ProvisioningError(
            f"{_failed(kind, ref)}: the target changed before each of "
            f"{MAX_ATTEMPTS} writes (412 every time)",
            hint="someone else is changing it right now; try again later",
        )

    async def _attempt(
        self, kind: Kind, action: Action, operation: PatchOperation, ref: AccessRef
    ) -> Outcome | None:
        """Read, then write once; None when the write lost a race (412)."""
        target = await self._read(operation, ref)
        if target.holds is (kind == "grant"):
            logger.info("%s: nothing to change", ref.grant_id)
            return Outcome(kind, ref, changed=False)

        change = await self._change(action, operation, ref, target)
        try:
            await self._send(change)
        except ServiceError as error:
            if error.status == 412:
                return None
            if (
                error.status == 409
                and kind == "grant"
                and await self._holds(operation, ref)
            ):
                # A uniqueness conflict may just mean it is there already.
                return Outcome(kind, ref, changed=False)
            raise
        return Outcome(kind, ref, changed=True)

    async def _holds(self, operation: PatchOperation, ref: AccessRef) -> bool:
        return bool((await self._read(operation, ref)).holds)

    async def _read(self, operation: PatchOperation, ref: AccessRef) -> _Target:
        """Read the target with its version; tell whether the user holds it."""
        is_group = ref.resource_type == "group"
        path = _group_path(ref) if is_group else _user_path(ref.user_id)
        response, body = await self.client.send("GET", path)
        current = self._resource(response, body, path)
        version = response.headers.get("ETag") or _meta_version(current)

        if is_group:
            holds = await self._in_group(current, ref, operation)
            return _Target(current, version, holds)
        role = _matching_role(self._user_roles(current), ref.resource_id)
        holds = True if role else (False if self._maps_roles() else None)
        return _Target(current, version, holds, role)

    def _resource(self, response: Any, body: bytes, path: str) -> dict[str, Any]:
        resource = self.client.decode(response, body)
        if not isinstance(resource, dict):
            raise ProtocolError(
                f"GET {path}: the answer is not a SCIM resource",
                hint="check apiEndpoint: it must point at the SCIM base URL",
            )
        return resource

    async def _in_group(
        self, group: dict[str, Any], ref: AccessRef, operation: PatchOperation
    ) -> bool | None:
        hooks, config = self.context.hook, self.context.config
        record = hooks.baton_scim_map_group(provider=self.context, resource=group)
        if record is not None and (record.members or config.group.members):
            return ref.user_id in {member.id for member in record.members}
        if config.user.has_groups_on_user:
            return await self._user_lists_group(ref)
        # Nothing maps the members: look at the list the request would change.
        items = find_list(group, operation.path)
        if not isinstance(items, list):
            return None
        return any(_item_value(i, operation.value_path) == ref.user_id for i in items)

    async def _user_lists_group(self, ref: AccessRef) -> bool:
        path = _user_path(ref.user_id)
        response, body = await self.client.send("GET", path)
        user = self.context.hook.baton_scim_map_user(
            provider=self.context, resource=self._resource(response, body, path)
        )
        groups = user.groups if user is not None else []
        return any(
            g.id == ref.resource_id or g.name == ref.resource_name for g in groups
        )

    def _user_roles(self, user: dict[str, Any]) -> list[RoleRef]:
        record = self.context.hook.baton_scim_map_user(
            provider=self.context, resource=user
        )
        return list(record.roles) if record is not None else []

    def _maps_roles(self) -> bool:
        return self.context.config.user.roles is not None

    async def _change(
        self, action: Action, operation: PatchOperation, ref: AccessRef, target: _Target
    ) -> Change:
        role = None
        if ref.resource_type == "role":
            role = target.role or await self._role_value(ref)
        group_id = ref.resource_id if ref.resource_type == "group" else None
        return Change(
            action,
            ref.user_id,
            operation,
            group_id,
            role,
            target.current,
            target.version,
        )

    async def _role_value(self, ref: AccessRef) -> RoleRef:
        """The role's SCIM value, read from another user who holds it.

        The c1z keeps a role's ID (snake_case of its name) and name, not the
        value the service expects in a PATCH.
        """
        if self._role is not None:
            return self._role
        for holder in ref.holders:
            role = await self._holder_role(holder, ref.resource_id)
            if role is not None:
                self._role = role
                return role
        raise ProvisioningError(
            f"cannot tell the SCIM value of role {ref.resource_id} "
            f"({ref.resource_name!r}): none of the {len(ref.holders)} other users "
            "holding it in the file still has it",
            hint="run a sync and try again, or assign the role once in the service",
        )

    async def _holder_role(self, holder: str, role_id: str) -> RoleRef | None:
        path = _user_path(holder)
        try:
            response, body = await self.client.send("GET", path)
        except ServiceError as error:
            if error.status == 404:
                return None  # the holder left since the sync
            raise
        roles = self._user_roles(self._resource(response, body, path))
        return _matching_role(roles, role_id)

    async def _send(self, change: Change) -> None:
        request: ProvisioningRequest | None = (
            self.context.hook.baton_scim_provisioning_request(
                provider=self.context, change=change
            )
        )
        if request is None:
            raise ProvisioningError(
                f"no request was built for {change.yaml_key}",
                hint="the provider plugin returned nothing; report it to its authors",
            )
        check_request(change, request)
        headers = dict(request.headers)
        if rewrites(change, request) and not _has(headers, "If-Match"):
            headers.update(_guarded(change))
        logger.debug("%s %s %s", request.method, request.path, request.body)
        await self.client.send(
            request.method, request.path, json_body=request.body, headers=headers
        )


def _group_path(ref: AccessRef) -> str:
    return f"Groups/{quote(ref.resource_id, safe='')}"


def _user_path(user_id: str) -> str:
    return f"Users/{quote(user_id, safe='')}"


def _meta_version(resource: dict[str, Any]) -> str | None:
    meta = resource.get("meta")
    version = meta.get("version") if isinstance(meta, dict) else None
    return version if isinstance(version, str) and version else None


def _matching_role(roles: list[RoleRef], role_id: str) -> RoleRef | None:
    """The role with this c1z ID: snake_case of its name, or its very value."""
    for role in roles:
        if role.id == role_id:
            return role
    return next((role for role in roles if role.value == role_id), None)


def rewrites(change: Change, request: ProvisioningRequest) -> bool:
    """Whether a request writes a whole list back: a PUT, or a PatchOp replace."""
    if change.rewrites_list or request.method.upper() == "PUT":
        return True
    body = request.body
    operations = body.get("Operations") if isinstance(body, dict) else None
    return isinstance(operations, list) and any(
        _replaces_attribute(op) for op in operations
    )


def _replaces_attribute(operation: Any) -> bool:
    """A replace of a whole attribute, as opposed to one through a filter.

    RFC 7644 §3.5.2.3: ``roles[primary eq true].value`` sets a value inside
    the matching items and writes no list back (Miro's user role change).
    """
    if not isinstance(operation, dict):
        return False
    if str(operation.get("op", "")).lower() != "replace":
        return False
    path = operation.get("path")
    return path is None or _is_list_path(str(path))


def _guarded(change: Change) -> dict[str, str]:
    """The If-Match header of a rewrite; refused without a version unless allowed."""
    if change.version:
        return {"If-Match": change.version}
    if change.operation.accept_unversioned_replace:
        logger.warning(
            "%s has no version: writing it back unguarded, as %s allows",
            change.target_path,
            change.yaml_key,
        )
        return {}
    raise ProvisioningError(
        f"{change.target_path} came without a version (ETag or meta.version), so "
        "writing its list back could undo another client's change made meanwhile",
        hint=f"prefer op: add/remove in {change.yaml_key}, or accept that risk "
        f"with {change.yaml_key}.acceptUnversionedReplace: true",
    )


def _has(headers: dict[str, str], name: str) -> bool:
    return any(key.lower() == name.lower() for key in headers)


def explained(
    error: ServiceError, kind: Kind, ref: AccessRef, action: Action
) -> ServiceError:
    """The service's error, saying which change failed and what to do."""
    return type(error)(
        f"{_failed(kind, ref)}: {error.message}",
        status=error.status,
        request=error.request,
        detail=error.detail,
        scim_type=error.scim_type,
        hint=_service_hint(error, action) or error.hint,
    )


def _failed(kind: Kind, ref: AccessRef) -> str:
    joiner = "to" if kind == "grant" else "from"
    return f"cannot {kind} {ref.entitlement_id} {joiner} user:{ref.user_id}"


def _service_hint(error: ServiceError, action: Action) -> str | None:
    thing = "the group" if "/Groups/" in error.request else "the user"
    key = f"provisioning.{YAML_KEYS[action]}"
    hints = {
        400: f"the service refused the request's shape; check {key} in the "
        "provider description",
        403: "the credentials may read but not change access; use a token "
        "allowed to manage users, groups and roles",
        404: f"{thing} is no longer in the service; run a sync and take IDs "
        "from the new file",
        409: f"the change conflicts with {thing} as the service has it now; "
        "look at it there, run a sync, then try again",
    }
    return hints.get(error.status)
