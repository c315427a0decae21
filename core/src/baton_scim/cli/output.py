"""Terminal output: consoles, progress, summaries and error lines."""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from ..errors import BatonScimError
from ..logs import setup_logging
from ..paging import ListingState
from ..sync import SyncSummary

logger = logging.getLogger(__name__)

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def default_log_format() -> str:
    """Baton's rule: console on a terminal, JSON otherwise."""
    return "console" if sys.stdout.isatty() else "json"


def configure_logging(level: str, fmt: str) -> None:
    """Logs to stderr; on a terminal through rich, so progress stays tidy."""
    handler: logging.Handler | None = None
    if fmt == "console" and stderr.is_terminal:
        handler = RichHandler(console=stderr, show_path=False, markup=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    setup_logging(level, fmt, handler)


def error_line(error: BaseException, *, debug: bool) -> None:
    """One line on stderr for a failure; the traceback only when debugging."""
    if debug:
        logger.error("failed", exc_info=error)
    text = str(error) if isinstance(error, BatonScimError) else _unexpected(error)
    from ..logs import redactor

    stderr.print(f"[bold red]error:[/] {_escape(redactor.scrub(text))}")


def _unexpected(error: BaseException) -> str:
    return (
        f"unexpected {type(error).__name__}: {error} "
        "(run with --log-level debug for the traceback)"
    )


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


class SyncProgress:
    """Rich progress bars per resource type: items and pages against totals."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("{task.description:<7}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("items  {task.fields[pages]} pages"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}
        self._page_size: dict[str, int] = {}

    def __call__(self, state: ListingState) -> None:
        task = self._tasks.get(state.endpoint)
        if task is None:
            task = self._progress.add_task(state.endpoint, total=None, pages="0")
            self._tasks[state.endpoint] = task
            self._page_size[state.endpoint] = max(state.received, 1)
        expected = self._expected_pages(state)
        self._progress.update(
            task,
            completed=state.unique,
            total=state.total if state.total is not None else None,
            pages=f"{state.pages}/{expected}" if expected else str(state.pages),
        )

    def _expected_pages(self, state: ListingState) -> int | None:
        if state.total is None:
            return None
        return max(
            math.ceil(state.total / self._page_size[state.endpoint]), state.pages
        )

    @contextmanager
    def running(self) -> Iterator[SyncProgress]:
        with self._progress:
            yield self


def progress_for(fmt: str) -> SyncProgress | None:
    """Progress bars only on a terminal with console logs."""
    if fmt == "console" and stderr.is_terminal:
        return SyncProgress(stderr)
    return None


def print_summary(summary: SyncSummary, console: Console) -> None:
    """The closing summary: counts, requests, seconds, warnings."""
    console.print(
        f"[bold green]synced[/] {summary.users} users, {summary.groups} groups, "
        f"{summary.roles} roles, {summary.memberships} memberships, "
        f"{summary.role_assignments} role assignments into {summary.file} "
        f"in {summary.seconds:.1f}s ({summary.requests} requests"
        + (f", {summary.retries} retries" if summary.retries else "")
        + ")"
    )
    for warning in summary.warnings:
        console.print(f"[yellow]warning:[/] {_escape(warning)}")


def summary_dict(summary: SyncSummary) -> dict[str, Any]:
    return summary.as_dict()
