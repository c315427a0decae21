"""What a killed sync leaves beside its output, removed by the next sync.

A writer claims its temporaries with an advisory lock for as long as it
lives. The kill -9 test runs the real console script against a real
scim2-server and kills it mid-listing; the others lay temporaries out by
hand to show what a sweep must leave alone.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

from baton_scim.c1z import C1zWriter
from baton_scim.c1z import messages as m
from baton_scim.c1z.container import MAGIC
from baton_scim.c1z.leftovers import CLAIM_NAME, GRACE_SECONDS

from tests.support.cli import run_cli
from tests.support.hostile import SCIM2_SERVER, Stall, description, leftovers
from tests.support.scim_server import ScimServer, seed_directory
from tests.test_interrupt import baton_scim

LONG_AGO = GRACE_SECONDS * 10


def _age(path: Path, seconds: float = LONG_AGO) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def _writer_folder(parent: Path, tag: str, *, extra: str | None = None) -> Path:
    folder = parent / f".sync.c1z.{tag}.tmp"
    folder.mkdir()
    (folder / CLAIM_NAME).write_bytes(b"")
    (folder / "sync.db").write_bytes(b"SQLite format 3\0" + b"\0" * 100)
    if extra:
        (folder / extra).write_text("not a writer's file")
    _age(folder)
    return folder


def _write_one_sync(out: Path) -> None:
    with C1zWriter(out) as writer:
        writer.add_resource_type(m.ResourceType(id="user", display_name="User"))
        writer.finish()


def test_a_writer_removes_lapsed_temporaries_and_nothing_else(tmp_path):
    lapsed_folder = _writer_folder(tmp_path, "dead01")
    lapsed_file = tmp_path / ".sync.c1z.dead02.tmp"
    lapsed_file.write_bytes(MAGIC + b"half a frame")
    _age(lapsed_file)
    foreign = _writer_folder(tmp_path, "other1", extra="notes.txt")
    not_ours = tmp_path / ".sync.c1z.other2.tmp"
    not_ours.write_bytes(b"somebody else's bytes")
    _age(not_ours)
    young = _writer_folder(tmp_path, "young1")
    _age(young, GRACE_SECONDS / 10)
    other_output = _writer_folder(tmp_path, "x")
    other_output.rename(tmp_path / ".other.c1z.dead03.tmp")

    live = _writer_folder(tmp_path, "live01")
    with (live / CLAIM_NAME).open("rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        _write_one_sync(tmp_path / "sync.c1z")

    assert leftovers(tmp_path) == sorted(
        [
            ".other.c1z.dead03.tmp",
            foreign.name,
            live.name,
            not_ours.name,
            young.name,
        ]
    )
    assert not lapsed_folder.exists() and not lapsed_file.exists()


def test_a_separate_temporary_folder_is_swept_too(tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    lapsed = _writer_folder(scratch, "dead04")

    with C1zWriter(tmp_path / "sync.c1z", temp_dir=scratch) as writer:
        writer.add_resource_type(m.ResourceType(id="user", display_name="User"))
        writer.finish()

    assert not lapsed.exists()
    assert leftovers(scratch) == []


def test_the_sync_after_a_kill_removes_what_the_killed_one_left(tmp_path):
    out = tmp_path / "sync.c1z"
    token = f"tok-{secrets.token_hex(8)}"
    stall = Stall(30, None)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}

    with ScimServer(token, app_wrapper=stall.wrap) as server:
        seed_directory(server, users=10, groups=2)
        config = description(tmp_path, server.url, base=SCIM2_SERVER)
        stall.armed = True
        command = [*baton_scim(), "--scim-config", str(config), "-f", str(out)]
        process = subprocess.Popen(
            [*command, "--token", token],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert stall.arrived.wait(60), "the sync sent no request"
            process.send_signal(signal.SIGKILL)
            process.wait(30)
        finally:
            stall.armed = False
            stall.release()
            if process.poll() is None:
                process.kill()

        left = leftovers(tmp_path)
        for name in left:
            _age(tmp_path / name)
        result = run_cli("--scim-config", str(config), "--token", token, "-f", str(out))

    assert process.returncode == -signal.SIGKILL
    assert left and all(name.startswith(".sync.c1z.") for name in left)
    assert result.exit_code == 0, result.output
    assert leftovers(tmp_path) == []
    assert out.stat().st_size > 0
