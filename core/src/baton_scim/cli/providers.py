"""``baton-scim providers``: what is installed and where it comes from."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from ..plugins import load_registry
from . import output
from .app import State, app, failures


@app.command("providers")
def providers_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the installed providers: name, package, version, description."""
    state: State = ctx.obj
    with failures(state):
        registry = load_registry()
        rows = [
            {
                "name": p.name,
                "package": p.package,
                "version": p.version,
                "description": p.description,
                "configuration": p.source,
            }
            for p in registry
        ]
    if as_json:
        output.stdout.print_json(json.dumps(rows))
        return
    _table(rows)


def _table(rows: list[dict[str, str]]) -> None:
    if not rows:
        # markup=False: rich would read "[all]" as a style tag and drop it.
        output.stdout.print(
            "No provider is installed: pip install baton-scim-<name> "
            "(or baton-scim[all] for every built-in one)",
            markup=False,
        )
        return
    table = Table()
    # Names and packages are what a user types next: never cut them.
    for column in ("name", "package", "version"):
        table.add_column(column, no_wrap=True)
    table.add_column("description", ratio=1)
    table.add_column("configuration", ratio=1, overflow="fold")
    for row in rows:
        table.add_row(*row.values())
    output.stdout.print(table)
