"""Time limits: one request (--http-timeout-seconds) and the whole run.

A slow service is the real scim2-server behind a middleware that holds
list requests, as an overloaded service or a stalled proxy does. Held
requests are let go when a test ends, so no server thread outlives it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import GO_REFERENCE
from tests.support.hostile import (
    SCIM2_SERVER,
    Stall,
    description,
    leftovers,
    one_error_line,
    sync,
)
from tests.support.scim_server import ScimServer, seed_directory
from tests.support.snapshot import snapshot

OLD_BYTES = (GO_REFERENCE / "sync.c1z").read_bytes()


@pytest.fixture
def stalled(request) -> Iterator[tuple[ScimServer, Stall]]:
    stall = Stall(*request.param)
    token = f"tok-{secrets.token_hex(8)}"
    with ScimServer(token, app_wrapper=stall.wrap) as server:
        seed_directory(server, users=12, groups=2)
        stall.armed = True
        try:
            yield server, stall
        finally:
            stall.release()


def _sync(server: ScimServer, folder: Path, *flags: str):
    config = description(folder, server.url, base=SCIM2_SERVER)
    out = folder / "sync.c1z"
    out.write_bytes(OLD_BYTES)
    return sync(config, out, "--token", server.token, *flags), out


@pytest.mark.parametrize("stalled", [(1.5, 1)], indirect=True)
def test_a_request_slower_than_the_http_timeout_is_tried_again(stalled, tmp_path):
    server, stall = stalled

    result, out = _sync(server, tmp_path, "--http-timeout-seconds", "1")

    assert result.exit_code == 0, result.output
    assert stall.held == 1
    assert "timed out waiting for the answer" in result.stderr
    users = [r for r in snapshot(out)["resources"] if r[0] == "user"]
    assert len(users) == 12


@pytest.mark.parametrize("stalled", [(5.0, None)], indirect=True)
def test_a_request_that_keeps_timing_out_fails_with_one_line(stalled, tmp_path):
    server, _ = stalled

    result, out = _sync(
        server, tmp_path, "--http-timeout-seconds", "1", "--max-attempts", "1"
    )

    line = one_error_line(result)
    assert "GET /v2/Users?startIndex=1&count=100: timed out waiting" in line
    assert "after 1s" in line and "--http-timeout-seconds" in line
    assert out.read_bytes() == OLD_BYTES and leftovers(tmp_path) == []


@pytest.mark.parametrize("stalled", [(5.0, None)], indirect=True)
def test_the_run_stops_at_the_run_timeout_and_keeps_the_old_file(stalled, tmp_path):
    server, _ = stalled

    result, out = _sync(server, tmp_path, "--run-timeout-seconds", "1")

    line = one_error_line(result)
    assert "the run took longer than 1s" in line and "--run-timeout-seconds" in line
    assert out.read_bytes() == OLD_BYTES and leftovers(tmp_path) == []
