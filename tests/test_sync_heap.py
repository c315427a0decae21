"""A sync sets the heap it started with aside from its collections, and only then."""

from __future__ import annotations

import gc
from pathlib import Path

from tests.support.cli import run_cli
from tests.support.scim_server import ScimServer, seed_directory

DESCRIPTION = Path(__file__).parent / "data" / "scim2-server.yaml"


def _sync(server: ScimServer, out: Path, token: str) -> int:
    result = run_cli(
        "--scim-config",
        str(DESCRIPTION),
        "--api-endpoint",
        server.url,
        "--token",
        token,
        "--page-size",
        "10",
        "-f",
        str(out),
    )
    return result.exit_code


def test_collections_during_a_sync_skip_the_older_heap(tmp_path):
    frozen_during: list[int] = []

    def watch(phase: str, info: dict) -> None:
        if phase == "start":
            frozen_during.append(gc.get_freeze_count())

    with ScimServer("heap-token") as server:
        seed_directory(server, users=60, groups=6)
        gc.callbacks.append(watch)
        try:
            exit_code = _sync(server, tmp_path / "sync.c1z", server.token)
        finally:
            gc.callbacks.remove(watch)

    assert exit_code == 0
    assert max(frozen_during, default=0) > 0
    assert gc.get_freeze_count() == 0


def test_a_failed_sync_leaves_nothing_frozen(tmp_path):
    with ScimServer("heap-token") as server:
        exit_code = _sync(server, tmp_path / "sync.c1z", "wrong-token")

    assert exit_code != 0
    assert gc.get_freeze_count() == 0
