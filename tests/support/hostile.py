"""Helpers of the fault, paging, hostile-body and interrupt tests.

They write provider descriptions pointed at a test server (with fast
retries, so that no test sleeps for real), build small directories for
FakeScim, run a sync through the CLI, and check the promise every failure
keeps: one error line, the previous file untouched, no temporary file.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from tests.support.cli import Result, run_cli

DATA = Path(__file__).resolve().parents[1] / "data"
#: The description of the real scim2-server (bearer token via --token).
SCIM2_SERVER = DATA / "scim2-server.yaml"
#: The Go reference description (``Bearer`` API key via --api-key): FakeScim.
REFERENCE = DATA / "go-reference" / "config.yaml"
#: Retries that never sleep long: tests pin behaviour, not patience.
FAST_RETRIES = {"retryBaseDelaySeconds": 0.01, "maxRetryWaitSeconds": 5}
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"


def description(
    folder: Path,
    url: str,
    *,
    base: Path = REFERENCE,
    http: dict[str, Any] | None = None,
    pagination: dict[str, Any] | None = None,
    name: str = "config.yaml",
) -> Path:
    """Write ``base`` pointed at ``url``, with fast retries and extra keys."""
    data = yaml.safe_load(base.read_text())
    data["apiEndpoint"] = url.rstrip("/") + "/"
    data["http"] = {**FAST_RETRIES, **(http or {})}
    data["pagination"].update(pagination or {})
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def make_users(count: int, prefix: str = "u") -> list[dict[str, Any]]:
    """SCIM users with predictable IDs (``u-0001`` ...), names and emails."""
    return [_user(f"{prefix}-{n:04d}") for n in range(1, count + 1)]


def _user(user_id: str) -> dict[str, Any]:
    return {
        "schemas": [USER_SCHEMA],
        "id": user_id,
        "userName": f"{user_id}@example.com",
        "active": True,
        "name": {"givenName": "User", "familyName": user_id},
        "emails": [{"value": f"{user_id}@example.com", "primary": True}],
    }


def make_group(group_id: str, member_ids: list[str]) -> dict[str, Any]:
    """A SCIM group with the given user members."""
    return {
        "schemas": [GROUP_SCHEMA],
        "id": group_id,
        "displayName": group_id.title(),
        "members": [{"value": m, "type": "User"} for m in member_ids],
    }


def sync(config: Path, out: Path, *flags: str) -> Result:
    """Run a sync through the CLI with a description, an output and flags."""
    return run_cli("--scim-config", str(config), "-f", str(out), *flags)


def one_error_line(result: Result) -> str:
    """The single ``error:`` line of a failed run (and nothing like a traceback)."""
    assert result.exit_code != 0, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.output
    return errors[0]


def warnings_of(result: Result) -> list[str]:
    """The ``warning:`` lines of a run's summary."""
    return [line for line in result.stderr.splitlines() if line.startswith("warning:")]


def leftovers(folder: Path) -> list[str]:
    """Temporary files a sync left beside its output (``.<name>.*.tmp``)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


class Stall:
    """WSGI middleware holding some GET /Users requests until let go.

    Once ``armed``, ``times`` requests are held (None: all of them), each
    at most ``seconds``; ``arrived`` is set when the first one is held, and
    ``release()`` lets every held request go at once. It stands for an
    overloaded service or a stalled proxy in front of it.
    """

    def __init__(self, seconds: float, times: int | None) -> None:
        self.app: Any = None
        self.seconds = seconds
        self.times = times
        self.armed = False
        self.held = 0
        self.arrived = threading.Event()
        self._go = threading.Event()
        self._lock = threading.Lock()

    def wrap(self, app: Any) -> Stall:
        self.app = app
        return self

    def release(self) -> None:
        self._go.set()

    def __call__(self, environ: Any, start_response: Any) -> Iterable[bytes]:
        if self._should_hold(environ):
            self.arrived.set()
            self._go.wait(self.seconds)
        return self.app(environ, start_response)

    def _should_hold(self, environ: Any) -> bool:
        if not self.armed or not environ.get("PATH_INFO", "").endswith("/Users"):
            return False
        with self._lock:
            if self.times is not None and self.held >= self.times:
                return False
            self.held += 1
            return True
