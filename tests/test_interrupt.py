"""SIGINT or SIGTERM during a sync: exit 130/143, the previous file intact;
after the new file is in place, the sync stands and says so.

The sync runs as a real process (the ``baton-scim`` console script), so
the signal arrives as it does from a terminal or a scheduler. The real
scim2-server, behind ``Stall``, holds its user pages as a slow service
does until the signal has been handled: the sync is caught mid-listing
with its temporary files open.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from baton_scim.c1z import C1zReader

from tests.conftest import GO_REFERENCE
from tests.support.cli import run_cli
from tests.support.hostile import SCIM2_SERVER, Stall, description, leftovers
from tests.support.scim_server import ScimServer, seed_directory

OLD_BYTES = (GO_REFERENCE / "sync.c1z").read_bytes()


def baton_scim() -> list[str]:
    """The console script of this environment, or the same entry point."""
    script = Path(sys.executable).with_name("baton-scim")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from baton_scim.cli import main; main()"]


@pytest.mark.parametrize(
    ("signum", "exit_code"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
    ids=["SIGINT", "SIGTERM"],
)
def test_a_signal_mid_sync_keeps_the_previous_file_and_leaves_no_temporary(
    tmp_path, signum, exit_code
):
    out = tmp_path / "sync.c1z"
    out.write_bytes(OLD_BYTES)
    stall = Stall(30, None)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}

    token = f"tok-{secrets.token_hex(8)}"
    with ScimServer(token, app_wrapper=stall.wrap) as server:
        seed_directory(server, users=10, groups=2)
        stall.armed = True
        config = description(tmp_path, server.url, base=SCIM2_SERVER)
        command = [*baton_scim(), "--scim-config", str(config), "-f", str(out)]
        process = subprocess.Popen(
            [*command, "--token", token, "--log-format", "json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert stall.arrived.wait(60), "the sync sent no request"
            writing = leftovers(tmp_path)
            process.send_signal(signum)
            _, stderr = process.communicate(timeout=30)
        finally:
            stall.release()
            if process.poll() is None:
                process.kill()

    assert writing, "the sync had no temporary files open when signalled"
    assert process.returncode == exit_code, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: interrupted by {signal.Signals(signum).name} (run it again; an "
        "interrupted sync leaves the previous file as it was)"
    ]
    assert "Traceback" not in stderr
    assert out.read_bytes() == OLD_BYTES
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "timeout", [None, "600"], ids=["no run timeout", "with --run-timeout-seconds"]
)
def test_a_signal_while_the_file_is_replaced_reports_the_sync_written(
    tmp_path, monkeypatch, timeout
):
    # The signal lands inside finish(), just after the rename: the new file
    # is complete, so the run must say so rather than claim the old file
    # was kept (the hint of an interrupted sync).
    from baton_scim.c1z import writer as c1z_writer
    from baton_scim.http import ScimClient

    finish, aclose = c1z_writer.C1zWriter.finish, ScimClient.aclose

    def finish_then_signal(self):
        path = finish(self)
        os.kill(os.getpid(), signal.SIGINT)
        return path

    async def tls_like_close(self):
        # Over TLS, closing waits for the service's close_notify: the event
        # loop runs meanwhile and delivers the signal. Plain HTTP closes at
        # once, so the close is made to take that round trip here.
        await asyncio.sleep(0.05)
        await aclose(self)

    monkeypatch.setattr(c1z_writer.C1zWriter, "finish", finish_then_signal)
    monkeypatch.setattr(ScimClient, "aclose", tls_like_close)
    out = tmp_path / "sync.c1z"
    out.write_bytes(OLD_BYTES)
    token = f"tok-{secrets.token_hex(8)}"
    with ScimServer(token) as server:
        seed_directory(server, users=10, groups=2)
        config = description(tmp_path, server.url, base=SCIM2_SERVER)
        args = ["--scim-config", str(config), "-f", str(out), "--token", token]
        result = run_cli(*args, *(["--run-timeout-seconds", timeout] * bool(timeout)))

    assert result.exit_code == 0, result.output
    assert "interrupted" not in result.output
    assert "asked to stop after the sync was written to" in result.stderr
    assert out.read_bytes() != OLD_BYTES
    with C1zReader(out) as reader:
        assert [run.ended_at is not None for run in reader.syncs()] == [True, True]
    assert leftovers(tmp_path) == []
