"""A sync: list users and groups once, write one Baton sync into the c1z.

Records stream from pages straight into the c1z writer. The only things
held for the whole run are what grants need: the roles seen so far and,
when groups are listed on users, the group names and IDs.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import baton, defaults
from .c1z import C1zWriter
from .http import ScimClient, close_after
from .paging import Lister, ListingState
from .provider import ProviderContext
from .records import GroupRecord, GroupRef, RoleRef, UserRecord
from .settings import Settings

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[ListingState], None]


@dataclass
class SyncSummary:
    """What a finished sync wrote and what it cost."""

    users: int = 0
    groups: int = 0
    roles: int = 0
    memberships: int = 0
    role_assignments: int = 0
    skipped: int = 0
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0
    sync_id: str = ""
    file: Path | None = None
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["file"] = str(self.file) if self.file else None
        return data


class Sync:
    """One pass over the service, writing into an open C1zWriter."""

    def __init__(
        self,
        context: ProviderContext,
        client: ScimClient,
        writer: C1zWriter,
        on_page: ProgressCallback | None = None,
    ) -> None:
        self.context = context
        self.client = client
        self.writer = writer
        self.on_page = on_page
        self.summary = SyncSummary()
        self._roles: dict[str, baton.GrantTarget] = {}
        self._roles_by_name: dict[str, baton.GrantTarget] = {}
        self._groups_by_name: dict[str, str] = {}
        self._group_targets: dict[str, baton.GrantTarget] = {}
        self._groups_on_user = context.config.user.has_groups_on_user
        self._map_user = _mapping_hook(context, "baton_scim_map_user")
        self._map_group = _mapping_hook(context, "baton_scim_map_group")

    async def run(self) -> SyncSummary:
        """List everything and write it; the caller finishes the writer."""
        for resource_type in baton.RESOURCE_TYPES:
            self.writer.add_resource_type(resource_type)

        if self._groups_on_user:
            # User objects name their groups: list groups first to resolve them.
            await self._list_groups()
            await self._list_users()
        else:
            await asyncio.gather(self._list_groups(), self._list_users())
        return self.summary

    async def _list_groups(self) -> None:
        lister = Lister(self.client, self.context, "Groups", on_page=self.on_page)
        map_group = self._map_group
        async for resources in lister.pages():
            for raw in resources:
                record = map_group(raw)
                if record is None:
                    self.summary.skipped += 1
                    continue
                self._write_group(record)
        self.summary.warnings.extend(lister.state.warnings)

    def _write_group(self, group: GroupRecord) -> None:
        resource = baton.group_resource_of(group)
        self.writer.add_resource(resource)
        self.writer.add_entitlement(baton.member_entitlement(resource))
        self.summary.groups += 1
        target = baton.GrantTarget.of(resource)
        if self._groups_on_user:
            self._groups_by_name.setdefault(group.display_name, group.id)
            self._group_targets[group.id] = target

        for member in group.members:
            if member.is_group:
                logger.debug(
                    "group %s: nested group %s not expanded", group.id, member.id
                )
                continue
            self._grant(target, member.id, baton.user_principal_data(member.id))
            self.summary.memberships += 1

    def _grant(self, target: baton.GrantTarget, user_id: str, principal: bytes) -> None:
        """Write the grant of a target's ``member`` entitlement to a user."""
        grant_id = target.grant_id("user", user_id)
        self.writer.add_grant_data(
            target.resource_type,
            target.resource_id,
            target.entitlement_id,
            "user",
            user_id,
            grant_id,
            target.grant_data(principal, grant_id),
        )

    async def _list_users(self) -> None:
        lister = Lister(self.client, self.context, "Users", on_page=self.on_page)
        map_user = self._map_user
        async for resources in lister.pages():
            for raw in resources:
                record = map_user(raw)
                if record is None:
                    self.summary.skipped += 1
                    continue
                self._write_user(record)
        self.summary.warnings.extend(lister.state.warnings)

    def _write_user(self, user: UserRecord) -> None:
        data = baton.user_resource_data(user)
        self.writer.add_resource_data("user", user.id, data)
        self.summary.users += 1

        # Role grants carry the whole user resource as principal (Go shape).
        for role in user.roles:
            self._grant(self._role(role), user.id, data)
            self.summary.role_assignments += 1
        for group in user.groups:
            self._write_user_group(user, group)

    def _role(self, role: RoleRef) -> baton.GrantTarget:
        # Keyed by the shown name first: deriving the ID costs more than the
        # lookup, and a few role names recur across every user.
        target = self._roles_by_name.get(role.name)
        if target is not None:
            return target
        target = self._roles.get(role.id)
        if target is None:
            resource = baton.role_resource(role)
            target = baton.GrantTarget.of(resource)
            self._roles[role.id] = target
            self.writer.add_resource(resource)
            self.writer.add_entitlement(baton.member_entitlement(resource))
            self.summary.roles += 1
        self._roles_by_name[role.name] = target
        return target

    def _write_user_group(self, user: UserRecord, group: GroupRef) -> None:
        group_id = group.id or self._groups_by_name.get(group.name or "")
        if not group_id:
            message = (
                f"user {user.id}: group {group.name!r} is not in the group listing"
            )
            logger.warning(message)
            self.summary.warnings.append(message)
            return
        target = self._group_targets.get(group_id)
        if target is None:
            resource = baton.group_resource(group_id, group.name or group_id)
            target = baton.GrantTarget.of(resource)
        self._grant(target, user.id, baton.user_principal_data(user.id))
        self.summary.memberships += 1


def _mapping_hook(context: ProviderContext, name: str) -> Callable[[Any], Any]:
    """Call a mapping hook; straight to the core mapper when nothing overrides it.

    Going through pluggy costs several microseconds a record; when the
    core default is the only implementation the result is the same.
    """
    caller = getattr(context.hook, name)
    if all(impl.plugin is defaults for impl in caller.get_hookimpls()):
        mapper = context.mapper
        return mapper.user if name == "baton_scim_map_user" else mapper.group
    return lambda raw: caller(provider=context, resource=raw)


async def sync_into(
    context: ProviderContext,
    settings: Settings,
    on_page: ProgressCallback | None = None,
) -> SyncSummary:
    """Run a whole sync into ``settings.file``; the old file stays on failure."""
    started = time.perf_counter()
    done: str | None = None
    with _heap_set_aside():
        client = _client(context, settings)
        try:
            with C1zWriter(settings.file) as writer:
                summary = await Sync(context, client, writer, on_page).run()
                summary.file = writer.finish()
                summary.sync_id = writer.sync_id
                done = f"the sync was written to {summary.file}"
        finally:
            await close_after(client, done)
    summary.requests = client.stats.requests
    summary.retries = client.stats.retries
    summary.seconds = time.perf_counter() - started
    logger.info(
        "synced %d users, %d groups, %d roles in %.1fs (%d requests)",
        summary.users,
        summary.groups,
        summary.roles,
        summary.seconds,
        summary.requests,
    )
    return summary


@contextmanager
def _heap_set_aside() -> Iterator[None]:
    """Keep the objects made before the sync out of its garbage collections.

    Every page parsed makes thousands of objects, so the collector runs
    often, and each full collection walked every object of the process:
    modules, classes, the configuration. Frozen, they are skipped until the
    sync ends (0.3 s of a 100k-user sync). Objects made during the sync
    are collected as usual.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _client(context: ProviderContext, settings: Settings) -> ScimClient:
    return ScimClient(
        context,
        context.options["auth"],
        timeout=settings.http_timeout_seconds,
        transport=settings.transport,
        verify=settings.verify,
    )
