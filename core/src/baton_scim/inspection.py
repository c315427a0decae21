"""What a c1z file holds, as plain data: the model behind ``baton-scim inspect``.

``inspect_file`` reads one sync of a file and returns a JSON-ready dict
whose shape is documented in docs/inspect-json.md and versioned by
``FORMAT_VERSION``: add a key and the version stays; rename, remove or
change the meaning of one and it goes up. Every list is sorted by ID, so
that two inspections of the same data are byte for byte the same.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .c1z import C1zError, C1zReader, SyncRun
from .c1z import messages as pb
from .errors import ConfigError

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1

TRAIT_NAMES = {1: "user", 2: "group", 3: "role", 4: "app"}
USER_STATUS = {0: "unspecified", 1: "enabled", 2: "disabled", 3: "deleted"}
PURPOSES = {0: "unspecified", 1: "assignment", 2: "permission"}
_TRAIT_TYPES = {
    pb.type_url(pb.UserTrait()): ("user", pb.UserTrait),
    pb.type_url(pb.GroupTrait()): ("group", pb.GroupTrait),
    pb.type_url(pb.RoleTrait()): ("role", pb.RoleTrait),
}

Names = dict[tuple[str, str], str]


def inspect_file(
    path: Path,
    *,
    resource_type: str | None = None,
    principal: str | None = None,
    sync_id: str | None = None,
) -> dict[str, Any]:
    """One sync of a c1z file as plain data, optionally filtered.

    ``resource_type`` keeps the resources of that type, their entitlements
    and the grants on them. ``principal`` (a user ID) keeps the grants of
    that user and the entitlements and resources they reach.
    """
    with C1zReader(path) as reader:
        syncs = reader.syncs()
        shown = _chosen_sync(reader, syncs, sync_id, path)
        view = _View(reader, shown)
        if principal is not None:
            view.keep_principal(principal, path)
        if resource_type is not None:
            view.keep_resource_type(resource_type, path)
        return {
            "version": FORMAT_VERSION,
            "file": str(path),
            "sync_id": shown,
            "filters": {"resource_type": resource_type, "principal": principal},
            "syncs": [_sync(run, shown) for run in syncs],
            "stats": _stats(reader, shown),
            "resource_types": view.resource_types,
            "resources": view.resources(),
            "entitlements": view.entitlements(),
            "grants": view.grants(),
            "principal": view.principal,
        }


def _chosen_sync(
    reader: C1zReader, syncs: list[SyncRun], wanted: str | None, path: Path
) -> str:
    """The asked sync, else the one ``baton`` shows, else the last one written."""
    if not syncs:
        raise C1zError(f"{path}: the file holds no sync")
    if wanted is not None:
        if wanted not in {run.sync_id for run in syncs}:
            known = ", ".join(run.sync_id for run in syncs)
            raise ConfigError(
                f"{path}: no sync {wanted!r} in the file (it holds {known})",
                hint="pick one of the sync IDs listed",
            )
        return wanted
    return reader.default_sync_id() or syncs[-1].sync_id


def _sync(run: SyncRun, shown: str) -> dict[str, Any]:
    return {
        "id": run.sync_id,
        "type": run.sync_type,
        "started_at": _timestamp(run.started_at),
        "ended_at": _timestamp(run.ended_at) if run.ended_at else None,
        "finished": run.finished,
        "shown": run.sync_id == shown,
    }


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _stats(reader: C1zReader, sync_id: str) -> dict[str, int]:
    try:
        return reader.stats(sync_id)
    except C1zError:
        return {}


class _View:
    """The objects of one sync, narrowed step by step by the filters."""

    def __init__(self, reader: C1zReader, sync_id: str) -> None:
        self.resource_types = sorted(
            (_resource_type(kind) for kind in reader.resource_types(sync_id)),
            key=lambda item: item["id"],
        )
        self._reader = reader
        self._sync_id = sync_id
        self._resources = list(reader.resources(sync_id))
        self._entitlements = list(reader.entitlements(sync_id))
        # Grants are the bulk of a file: read them only once it is known
        # whether one user's are enough (an indexed query) or all are needed.
        self._grants: list[Any] | None = None
        self._by_key = {_key(r): r for r in self._resources}
        self.names: Names = {key: r.display_name for key, r in self._by_key.items()}
        self._titles = {e.id: e.display_name for e in self._entitlements}
        self.principal: dict[str, Any] | None = None

    def keep_resource_type(self, kind: str, path: Path) -> None:
        """Keep only what belongs to resources of one type."""
        known = [item["id"] for item in self.resource_types]
        if kind not in known:
            raise ConfigError(
                f"{path}: no resource type {kind!r} in the sync",
                hint=f"use one of: {', '.join(known) or 'none'}",
            )
        self._resources = [r for r in self._resources if r.id.resource_type == kind]
        self._entitlements = [
            e for e in self._entitlements if e.resource.id.resource_type == kind
        ]
        self._grants = [
            g
            for g in self._all_grants()
            if g.entitlement.resource.id.resource_type == kind
        ]

    def _all_grants(self) -> list[Any]:
        if self._grants is None:
            self._grants = list(self._reader.grants(self._sync_id))
        return self._grants

    def keep_principal(self, wanted: str, path: Path) -> None:
        """Keep the grants of one user and what they reach."""
        user = ("user", self._user_id(wanted, path))
        self.principal = resource_dict(self._by_key[user])
        self._grants = list(self._reader.grants(self._sync_id, principal=user))
        reached = {g.entitlement.id for g in self._grants}
        targets = {_key(g.entitlement.resource) for g in self._grants}
        self._entitlements = [e for e in self._entitlements if e.id in reached]
        self._resources = [r for r in self._resources if _key(r) in targets]

    def _user_id(self, wanted: str, path: Path) -> str:
        # "user:<id>" is accepted too, as Baton writes principals that way.
        for candidate in (wanted, wanted.removeprefix("user:")):
            if ("user", candidate) in self.names:
                return candidate
        raise ConfigError(
            f"{path}: no user {wanted!r} in the sync",
            hint="list the user IDs with: baton-scim inspect --resource-type user",
        )

    def resources(self) -> list[dict[str, Any]]:
        """The kept resources, sorted by type, then ID."""
        items = [resource_dict(r) for r in self._resources]
        return sorted(items, key=lambda item: (item["resource_type"], item["id"]))

    def entitlements(self) -> list[dict[str, Any]]:
        """The kept entitlements, sorted by ID."""
        items = [_entitlement(e, self.names) for e in self._entitlements]
        return sorted(items, key=lambda item: item["id"])

    def grants(self) -> list[dict[str, Any]]:
        """The kept grants with the names of what they join, sorted by ID."""
        items = [_grant(g, self.names, self._titles) for g in self._all_grants()]
        return sorted(items, key=lambda item: item["id"])


def _key(resource: Any) -> tuple[str, str]:
    return resource.id.resource_type, resource.id.resource


def _resource_type(kind: Any) -> dict[str, Any]:
    return {
        "id": kind.id,
        "display_name": kind.display_name,
        "traits": [TRAIT_NAMES.get(trait, str(trait)) for trait in kind.traits],
    }


def resource_dict(resource: Any) -> dict[str, Any]:
    """One resource with its trait's fields (status and email for users)."""
    kind, trait = _trait(resource)
    item: dict[str, Any] = {
        "resource_type": resource.id.resource_type,
        "id": resource.id.resource,
        "display_name": resource.display_name,
        "trait": kind,
        "status": None,
        "email": None,
        "login": None,
        "profile": _profile(trait),
    }
    if kind == "user":
        item.update(_user_fields(trait))
    return item


def _trait(resource: Any) -> tuple[str | None, Any]:
    for annotation in resource.annotations:
        known = _TRAIT_TYPES.get(annotation.type_url)
        if known is not None:
            name, cls = known
            trait = cls()
            annotation.Unpack(trait)
            return name, trait
    return None, None


def _profile(trait: Any) -> dict[str, Any]:
    if trait is None or not trait.HasField("profile"):
        return {}
    return dict(sorted(trait.profile.items()))


def _user_fields(trait: Any) -> dict[str, Any]:
    emails = list(trait.emails)
    primary = [e.address for e in emails if e.is_primary]
    email = (primary or [e.address for e in emails] or [None])[0]
    profile = _profile(trait)
    return {
        "status": USER_STATUS.get(trait.status.status, "unspecified"),
        "email": email,
        "login": trait.login or profile.get("login") or None,
    }


def _entitlement(entitlement: Any, names: Names) -> dict[str, Any]:
    target = _key(entitlement.resource)
    return {
        "id": entitlement.id,
        "display_name": entitlement.display_name,
        "description": entitlement.description,
        "slug": entitlement.slug,
        "purpose": PURPOSES.get(entitlement.purpose, "unspecified"),
        "resource_type": target[0],
        "resource_id": target[1],
        "resource_name": names.get(target, entitlement.resource.display_name),
        "grantable_to": sorted(kind.id for kind in entitlement.grantable_to),
    }


def _grant(grant: Any, names: Names, titles: dict[str, str]) -> dict[str, Any]:
    target = _key(grant.entitlement.resource)
    principal = _key(grant.principal)
    return {
        "id": grant.id,
        "entitlement_id": grant.entitlement.id,
        "entitlement_name": titles.get(grant.entitlement.id)
        or grant.entitlement.display_name,
        "resource_type": target[0],
        "resource_id": target[1],
        "resource_name": names.get(target, grant.entitlement.resource.display_name),
        "principal_type": principal[0],
        "principal_id": principal[1],
        "principal_name": names.get(principal, grant.principal.display_name),
    }
