"""A comparable picture of the latest sync in a c1z file.

Two files are "the same" for Baton when they hold the same resource types,
resources (IDs, display names, trait fields, profile values),
entitlements and grants, whatever the row order, sync IDs and timestamps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from baton_scim.c1z import C1zReader
from baton_scim.c1z import messages as pb
from google.protobuf.json_format import MessageToDict

TRAITS = {
    "type.googleapis.com/c1.connector.v2.UserTrait": pb.UserTrait,
    "type.googleapis.com/c1.connector.v2.GroupTrait": pb.GroupTrait,
    "type.googleapis.com/c1.connector.v2.RoleTrait": pb.RoleTrait,
}


def trait_of(resource: Any) -> dict[str, Any]:
    """The resource's trait annotation as a plain dict (one per resource)."""
    for annotation in resource.annotations:
        kind = TRAITS.get(annotation.type_url)
        if kind is not None:
            trait = kind()
            annotation.Unpack(trait)
            return {
                "type": annotation.type_url.rsplit(".", 1)[-1],
                **MessageToDict(trait),
            }
    return {}


def resource_view(resource: Any) -> tuple[Any, ...]:
    return (
        resource.id.resource_type,
        resource.id.resource,
        resource.display_name,
        _frozen(trait_of(resource)),
    )


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


def snapshot(path: Path, sync_id: str | None = None) -> dict[str, set[Any]]:
    """Resource types, resources, entitlements and grants of one sync."""
    with C1zReader(path) as reader:
        sync_id = sync_id or reader.latest_sync_id()
        return {
            "resource_types": {
                (t.id, t.display_name, tuple(t.traits))
                for t in reader.resource_types(sync_id)
            },
            "resources": {resource_view(r) for r in reader.resources(sync_id)},
            "entitlements": {
                (
                    e.id,
                    e.display_name,
                    e.description,
                    e.slug,
                    e.purpose,
                    tuple(t.id for t in e.grantable_to),
                    resource_view(e.resource),
                )
                for e in reader.entitlements(sync_id)
            },
            "grants": {
                (
                    g.id,
                    g.entitlement.id,
                    g.entitlement.resource.id.resource_type,
                    g.entitlement.resource.id.resource,
                    g.principal.id.resource_type,
                    g.principal.id.resource,
                )
                for g in reader.grants(sync_id)
            },
        }
