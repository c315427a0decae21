"""``baton-scim check``: validate the description and credentials, write nothing."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..logs import redactor
from . import output
from .app import State, app, failures, run_async

if TYPE_CHECKING:
    from ..check import Capabilities, CheckReport, Finding

STYLES = {"ok": "green", "warning": "yellow", "error": "red"}


@app.command("check")
def check_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Test the description, credentials and service; write nothing.

    Takes the same provider and credential flags as a sync, given before
    the command: baton-scim --service-provider slack --token ... check.
    Exits 0 only when a sync would work.
    """
    state: State = ctx.obj
    with failures(state):
        report = _run(state)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        _print(report)
    for finding in report.errors:
        _error_line(finding)
    if not report.ok:
        raise typer.Exit(1)


def _run(state: State) -> CheckReport:
    from ..check import check_service
    from ..runtime import prepare

    context = prepare(state.settings)
    return run_async(
        lambda: check_service(context, state.settings),
        timeout=state.settings.run_timeout_seconds,
    )


def _print(report: CheckReport) -> None:
    console = output.stdout
    console.print(
        f"[bold]check[/] provider {escape(report.provider)} at "
        f"{escape(report.endpoint)} ({report.requests} requests, nothing written)"
    )
    if report.capabilities is not None:
        console.print(_capability_table(report.capabilities))
    for finding in report.findings:
        style = STYLES[finding.level]
        console.print(f"  [{style}]{finding.level:<7}[/] {_text(finding)}")
    if report.ok:
        console.print("[bold green]a sync would work[/]")
    else:
        console.print("[bold red]a sync would fail[/]")


def _capability_table(capabilities: Capabilities) -> Table:
    table = Table(
        "capability",
        "announced",
        title=f"what {capabilities.source} announces",
        title_justify="left",
    )
    rows = {
        "patch": _yes_no(capabilities.patch),
        "filter": _with_limit(capabilities.filter, capabilities.filter_max_results),
        "etag": _yes_no(capabilities.etag),
        "sort": _yes_no(capabilities.sort),
        "bulk": _with_limit(capabilities.bulk, capabilities.bulk_max_operations),
        "paging (RFC 9865)": _paging(capabilities.pagination),
        "authentication": ", ".join(capabilities.authentication_schemes) or "-",
    }
    for name, value in rows.items():
        table.add_row(name, escape(value))
    return table


def _yes_no(value: bool | None) -> str:
    return {True: "yes", False: "no", None: "not said"}[value]


def _with_limit(value: bool | None, limit: int | None) -> str:
    text = _yes_no(value)
    return f"{text} (max {limit})" if value and limit else text


def _paging(pagination: dict[str, object] | None) -> str:
    if not pagination:
        return "not said (startIndex/count assumed)"
    return ", ".join(f"{key} {value}" for key, value in pagination.items())


def _text(finding: Finding) -> str:
    text = escape(redactor.scrub(finding.message))
    if finding.hint:
        text += f" [dim]({escape(finding.hint)})[/]"
    return text


def _error_line(finding: Finding) -> None:
    """The one line on stderr that says why the check failed."""
    hint = f" ({finding.hint})" if finding.hint else ""
    line = redactor.scrub(f"{finding.topic}: {finding.message}{hint}")
    output.stderr.print(f"[bold red]error:[/] {escape(line)}")
