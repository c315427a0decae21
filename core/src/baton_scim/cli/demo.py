"""``baton-scim demo``: a real SCIM server, a real sync, a real file."""

from __future__ import annotations

import shlex
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from ..demo import DEFAULT_GROUPS, DEFAULT_SEED, DEFAULT_USERS, MAX_GROUPS, MAX_USERS
from . import output
from .app import State, app, failures, run_async

if TYPE_CHECKING:
    from ..demo import DemoDirectory
    from ..sync import SyncSummary


@app.command("demo")
def demo_command(
    ctx: typer.Context,
    users: Annotated[
        int,
        typer.Option(
            "--users", min=1, max=MAX_USERS, help="How many users to generate."
        ),
    ] = DEFAULT_USERS,
    groups: Annotated[
        int,
        typer.Option(
            "--groups", min=0, max=MAX_GROUPS, help="How many groups to generate."
        ),
    ] = DEFAULT_GROUPS,
    seed: Annotated[
        int,
        typer.Option(
            "--seed", help="Random seed: the same seed gives the same directory."
        ),
    ] = DEFAULT_SEED,
    file: Annotated[
        Path | None,
        typer.Option(
            "-f",
            "--file",
            help="The c1z file to write (default: the main -f, i.e. sync.c1z).",
        ),
    ] = None,
) -> None:
    """Sync a generated directory, served by a SCIM server in process."""
    state: State = ctx.obj
    _quiet_unless_asked(ctx, state)
    with failures(state):
        directory, summary = _run(state, users, groups, seed, file)
    _report(directory, summary)


def _quiet_unless_asked(ctx: typer.Context, state: State) -> None:
    """Keep per-request log lines off the demo unless --log-level was given."""
    root = ctx.parent
    source = root.get_parameter_source("log_level") if root else None
    # Compared by name: typer bundles its own copy of click's enum.
    if getattr(source, "name", "DEFAULT") in ("DEFAULT", "DEFAULT_MAP"):
        output.configure_logging("warn", state.log_format)


def _run(
    state: State, users: int, groups: int, seed: int, file: Path | None
) -> tuple[DemoDirectory, SyncSummary]:
    from dataclasses import replace

    from ..demo import (
        DemoServer,
        demo_registry,
        demo_settings,
        fill,
        plan_directory,
        writable_target,
    )
    from ..runtime import prepare
    from ..sync import sync_into

    target = writable_target(file or state.settings.file)
    plan = plan_directory(users, groups, seed)
    with DemoServer(seed) as server:
        directory = fill(server, plan)
        _announce(server.url, directory)
        settings = replace(demo_settings(state.settings, server), file=target)
        context = prepare(settings, demo_registry())
        progress = output.progress_for(state.log_format)
        with progress.running() if progress else nullcontext():
            summary = run_async(
                lambda: sync_into(context, settings, on_page=progress),
                timeout=settings.run_timeout_seconds,
            )
    return directory, summary


def _announce(url: str, directory: DemoDirectory) -> None:
    counts = directory.counts
    output.stdout.print(
        f"[bold]demo[/] scim2-server on {escape(url)} "
        "(bearer token: random, kept secret)"
    )
    output.stdout.print(
        f"     serving {_n(counts.users, 'user')} ({counts.inactive} inactive), "
        f"{_n(counts.groups, 'group')}, {_n(counts.memberships, 'membership')}, "
        f"{_n(counts.roles, 'role')}, {_n(counts.role_assignments, 'role assignment')} "
        f"(seed {directory.plan.seed})"
    )


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _report(directory: DemoDirectory, summary: SyncSummary) -> None:
    output.print_summary(summary, output.stdout)
    user_id, name = directory.featured_user()
    file = _file_flag(summary.file)
    steps = [
        (f"baton-scim inspect{file}", "what the file holds"),
        (f"baton-scim inspect{file} --principal {user_id}", f"what {name} can access"),
        (
            f"baton-scim inspect{file} --resource-type role",
            "the roles and who holds them",
        ),
        (f"baton-scim inspect{file} --json", "the same as JSON (docs/inspect-json.md)"),
        (
            "baton-scim --service-provider NAME --token ... check",
            "then a real service: test the credentials",
        ),
        ("baton-scim --service-provider NAME --token ...", "and sync it"),
    ]
    output.stdout.print("\nNext:")
    width = max(len(command) for command, _ in steps)
    for command, why in steps:
        output.stdout.print(f"  {escape(command):<{width}}  [dim]# {escape(why)}[/]")


def _file_flag(file: Path | None) -> str:
    if file is None or file == Path("sync.c1z"):
        return ""
    return f" -f {shlex.quote(str(file))}"
