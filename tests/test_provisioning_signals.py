"""SIGINT during a grant: before the change, nothing happens and the run says
how to go on; once the service has made the change, the run reports it.

The signal is sent from inside the run (the command runs in process), at
a chosen moment: before the first request, or once the PATCH is answered.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable

import pytest
from baton_scim.http import ScimClient
from baton_scim.provisioning import Provisioner

from tests.test_provisioning import (
    World,
    assert_one_line,
    make_world,  # noqa: F401  (the fixture behind ``world``)
)


@pytest.fixture
def world(make_world: Callable[..., World]) -> World:  # noqa: F811
    return make_world()


@pytest.fixture
def tls_like_close(monkeypatch: pytest.MonkeyPatch) -> None:
    """Closing takes a round trip, as over TLS (waiting for close_notify).

    Plain HTTP closes at once, leaving the event loop no turn in which to
    deliver a signal sent at the end of the work.
    """
    aclose = ScimClient.aclose

    async def slow_close(self: ScimClient) -> None:
        await asyncio.sleep(0.05)
        await aclose(self)

    monkeypatch.setattr(ScimClient, "aclose", slow_close)


def signal_around_run(monkeypatch: pytest.MonkeyPatch, *, after: bool) -> None:
    """Send this process SIGINT just before or just after the change is made."""
    run = Provisioner.run

    async def run_with_signal(self, kind, ref):  # type: ignore[no-untyped-def]
        if not after:
            os.kill(os.getpid(), signal.SIGINT)
        outcome = await run(self, kind, ref)
        if after:
            os.kill(os.getpid(), signal.SIGINT)
        return outcome

    monkeypatch.setattr(Provisioner, "run", run_with_signal)


def test_a_signal_after_the_change_reports_it_made(
    world: World, monkeypatch: pytest.MonkeyPatch, tls_like_close: None
) -> None:
    world.sync()
    signal_around_run(monkeypatch, after=True)

    result = world.grant(world.group_entitlement("Engineering"), world.users["dave"])

    engineering = world.group_entitlement("Engineering")
    assert_one_line(result, f"granted {engineering} to user:{world.users['dave']}")
    assert "asked to stop after the grant was carried out" in result.stderr
    assert "interrupted" not in result.output
    assert world.member_names("Engineering") == {"alice", "bob", "carol", "dave"}


def test_a_signal_before_the_change_changes_nothing_and_says_to_run_again(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = world.sync()
    signal_around_run(monkeypatch, after=False)

    result = world.grant(world.group_entitlement("Engineering"), world.users["dave"])

    assert result.exit_code == 130, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: interrupted by SIGINT (run it again; it reads the target first, "
        "so a change the service already made is reported as already granted "
        "or revoked)"
    ]
    assert world.writes() == []
    assert world.member_names("Engineering") == {"alice", "bob", "carol"}
    assert world.file.read_bytes() == before
