"""``baton-scim inspect``: what a c1z file holds, as tables or JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from . import output
from .app import State, app, failures

DEFAULT_LIMIT = 25


@app.command("inspect")
def inspect_command(
    ctx: typer.Context,
    file: Annotated[
        Path | None,
        typer.Option(
            "-f", "--file", help="The c1z file to read (default: the main -f)."
        ),
    ] = None,
    resource_type: Annotated[
        str | None,
        typer.Option(
            "--resource-type",
            help="Only this resource type (user, group or role), its entitlements "
            "and the grants on it.",
        ),
    ] = None,
    principal: Annotated[
        str | None,
        typer.Option(
            "--principal",
            help="A user ID: what can this user access? (its grants, with names)",
        ),
    ] = None,
    sync_id: Annotated[
        str | None,
        typer.Option("--sync-id", help="Show this sync instead of the latest one."),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print JSON (see docs/inspect-json.md)."),
    ] = False,
    limit: Annotated[
        int,
        typer.Option(
            "--limit", min=0, help="Rows per table (0: all); JSON is always whole."
        ),
    ] = DEFAULT_LIMIT,
) -> None:
    """Show what a c1z file holds: syncs, resources, entitlements, grants."""
    from ..inspection import inspect_file

    state: State = ctx.obj
    with failures(state):
        data = inspect_file(
            file or state.settings.file,
            resource_type=resource_type,
            principal=principal,
            sync_id=sync_id,
        )
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    _print(data, limit)


def _print(data: dict[str, Any], limit: int) -> None:
    console = output.stdout
    if data["principal"] is not None:
        console.print(_access_heading(data))
        console.print(_access_table(data["grants"], limit))
        return
    if data["filters"]["resource_type"] is None:
        console.print(_syncs_table(data))
        console.print(_stats_table(data["stats"]))
        console.print(_resource_types_table(data["resource_types"]))
    console.print(_resources_table(data["resources"], limit))
    console.print(_entitlements_table(data["entitlements"], limit))
    console.print(_grants_table(data["grants"], limit))


def _table(title: str, *columns: str, shown: int, total: int) -> Table:
    caption = None
    if shown < total:
        caption = f"{shown} of {total} shown; --limit 0 shows all, --json gives all"
    table = Table(
        title=f"{title} ({total})",
        title_justify="left",
        caption=caption,
        caption_justify="left",
    )
    for column in columns:
        # Fold rather than cut: an ID is only useful whole.
        table.add_column(column, overflow="fold")
    return table


def _rows(items: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    return items if limit == 0 else items[:limit]


def _cells(*values: Any) -> list[str]:
    return [escape("" if value is None else str(value)) for value in values]


def _syncs_table(data: dict[str, Any]) -> Table:
    syncs = data["syncs"]
    table = _table(
        f"syncs in {data['file']}",
        "sync id",
        "type",
        "started",
        "ended",
        "shown",
        shown=len(syncs),
        total=len(syncs),
    )
    for sync in syncs:
        started = _when(sync["started_at"])
        ended = _when(sync["ended_at"]) if sync["ended_at"] else "unfinished"
        mark = "*" if sync["shown"] else ""
        table.add_row(*_cells(sync["id"], sync["type"], started, ended, mark))
    return table


def _when(timestamp: str) -> str:
    """An RFC 3339 UTC timestamp to the second, for people."""
    return timestamp[:19].replace("T", " ") + " UTC"


def _stats_table(stats: dict[str, int]) -> Table:
    table = _table("stats", "kind", "count", shown=len(stats), total=len(stats))
    for kind, count in stats.items():
        table.add_row(*_cells(kind, count))
    return table


def _resource_types_table(kinds: list[dict[str, Any]]) -> Table:
    table = _table(
        "resource types", "id", "name", "traits", shown=len(kinds), total=len(kinds)
    )
    for kind in kinds:
        table.add_row(
            *_cells(kind["id"], kind["display_name"], ", ".join(kind["traits"]))
        )
    return table


def _resources_table(resources: list[dict[str, Any]], limit: int) -> Table:
    rows = _rows(resources, limit)
    # E-mail and status belong to users; without users they are empty columns.
    users = any(item["trait"] == "user" for item in rows)
    columns = ["type", "id", "name"] + (["email", "status"] if users else [])
    table = _table("resources", *columns, shown=len(rows), total=len(resources))
    for item in rows:
        cells = [item["resource_type"], item["id"], item["display_name"]]
        if users:
            cells += [item["email"], item["status"]]
        table.add_row(*_cells(*cells))
    return table


def _entitlements_table(entitlements: list[dict[str, Any]], limit: int) -> Table:
    rows = _rows(entitlements, limit)
    table = _table(
        "entitlements",
        "id",
        "name",
        "resource",
        shown=len(rows),
        total=len(entitlements),
    )
    for item in rows:
        resource = f"{item['resource_type']} {item['resource_name']}"
        table.add_row(*_cells(item["id"], item["display_name"], resource))
    return table


def _grants_table(grants: list[dict[str, Any]], limit: int) -> Table:
    rows = _rows(grants, limit)
    table = _table(
        "grants",
        "resource",
        "entitlement",
        "principal",
        "principal id",
        shown=len(rows),
        total=len(grants),
    )
    for item in rows:
        table.add_row(
            *_cells(
                f"{item['resource_type']} {item['resource_name']}",
                item["entitlement_name"],
                item["principal_name"],
                f"{item['principal_type']}:{item['principal_id']}",
            )
        )
    return table


def _access_heading(data: dict[str, Any]) -> str:
    user = data["principal"]
    details = ", ".join(
        escape(str(value)) for value in (user["email"], user["status"]) if value
    )
    return (
        f"[bold]{escape(user['display_name'])}[/] (user {escape(user['id'])}"
        + (f", {details}" if details else "")
        + f") can access, in sync {escape(data['sync_id'])}:"
    )


def _access_table(grants: list[dict[str, Any]], limit: int) -> Table:
    ordered = sorted(
        grants, key=lambda item: (item["resource_type"], item["resource_name"])
    )
    rows = _rows(ordered, limit)
    table = _table(
        "access",
        "type",
        "resource",
        "entitlement id",
        shown=len(rows),
        total=len(grants),
    )
    for item in rows:
        table.add_row(
            *_cells(
                item["resource_type"], item["resource_name"], item["entitlement_id"]
            )
        )
    return table
