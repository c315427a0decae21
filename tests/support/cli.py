"""Running the baton-scim command in tests, in process."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from baton_scim.cli import (
    app,
    commands,  # noqa: F401  (registers subcommands)
)
from typer.testing import CliRunner


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_cli(*args: str, env: dict[str, str] | None = None) -> Result:
    """Invoke the CLI as a user would; stdout and stderr kept apart."""
    runner = CliRunner()
    result = runner.invoke(app, list(args), env=env or {}, catch_exceptions=False)
    _release_log_handlers()
    return Result(result.exit_code, result.stdout, result.stderr)


def _release_log_handlers() -> None:
    # Each run installs a handler on CliRunner's captured stream; drop it so
    # the next run (or pytest's capture) never writes to a closed stream.
    root = logging.getLogger("baton_scim")
    for handler in list(root.handlers):
        root.removeHandler(handler)
