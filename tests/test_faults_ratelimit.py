"""Rate limits: a request budget never exceeded, and concurrency that adapts.

Services count requests per interval for a whole organisation or account
(docs providers.md: Slack 1000 reads a minute, Miro 5 group listings per
30 seconds, Zoom per-second limits). A description names that budget in
``http.rateLimit``; the server here counts arrivals and checks every
interval. A 429 halves the requests in flight, successes slowly restore
them (AIMD).
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Iterable

from baton_scim.ratelimit import (
    RECOVERY_SUCCESSES,
    AdaptiveConcurrency,
    RequestRate,
    Throttle,
)

from tests.support.hostile import SCIM2_SERVER, description, sync
from tests.support.scim_server import ScimServer, seed_directory
from tests.support.snapshot import snapshot


class ArrivalClock:
    """WSGI middleware noting when each list request reaches the service."""

    def __init__(self) -> None:
        self.app = None
        self.arrivals: list[float] = []

    def wrap(self, app):
        self.app = app
        return self

    def __call__(self, environ, start_response) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] == "GET":
            self.arrivals.append(time.monotonic())
        return self.app(environ, start_response)


class OneAtATime:
    """WSGI middleware: 429 to any request arriving while another is served.

    It mimics a service whose limit is per account and tiny, as Zoom's
    older SCIM documentation gives it ("1 request/second per account").
    """

    def __init__(self) -> None:
        self.app = None
        self.lock = threading.Lock()
        self.in_flight = 0
        self.refused = 0
        self.served = 0

    def wrap(self, app):
        self.app = app
        return self

    def __call__(self, environ, start_response) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] != "GET":
            return self.app(environ, start_response)
        with self.lock:
            busy = self.in_flight > 0
            self.in_flight += 1
        try:
            if busy:
                self.refused += 1
                start_response("429 Too Many Requests", [("Retry-After", "0")])
                return [b""]
            time.sleep(0.01)  # long enough for overlapping requests to meet
            self.served += 1
            return list(self.app(environ, start_response))
        finally:
            with self.lock:
                self.in_flight -= 1


def most_in_any_window(arrivals: list[float], seconds: float) -> int:
    """The largest number of arrivals in any interval of ``seconds``."""
    ordered = sorted(arrivals)
    return max(
        sum(1 for t in ordered if start <= t < start + seconds) for start in ordered
    )


def test_the_description_request_rate_is_never_exceeded(tmp_path):
    clock = ArrivalClock()
    with ScimServer(f"tok-{secrets.token_hex(8)}", app_wrapper=clock.wrap) as server:
        seed_directory(server, users=40, groups=3)
        config = description(
            tmp_path,
            server.url,
            base=SCIM2_SERVER,
            http={"rateLimit": {"requests": 5, "perSeconds": 0.8}},
        )
        clock.arrivals.clear()
        result = sync(
            config, tmp_path / "s.c1z", "--token", server.token, "--page-size", "5"
        )

    assert result.exit_code == 0, result.output
    assert len(clock.arrivals) == 9  # 8 pages of users, 1 of groups
    assert most_in_any_window(clock.arrivals, 0.8) <= 5


def test_a_service_serving_one_request_at_a_time_is_synced_by_backing_off(
    tmp_path,
):
    gate = OneAtATime()
    with ScimServer(f"tok-{secrets.token_hex(8)}", app_wrapper=gate.wrap) as server:
        directory = seed_directory(server, users=100, groups=3)
        config = description(tmp_path, server.url, base=SCIM2_SERVER)
        gate.refused = gate.served = 0
        out = tmp_path / "s.c1z"
        result = sync(
            config,
            out,
            "--token",
            server.token,
            "--page-size",
            "5",
            "--concurrency",
            "4",
        )

    assert result.exit_code == 0, result.output
    users = {r[1] for r in snapshot(out)["resources"] if r[0] == "user"}
    assert users == {u["id"] for u in directory.users}
    # Four at once would meet three 429s per page; halving to one in
    # flight leaves a few, when recovery tries two again.
    assert gate.refused < gate.served / 2


async def test_a_429_halves_the_limit_once_per_burst_down_to_one():
    limit = AdaptiveConcurrency(8)

    limit.throttled(limit.generation)
    stale = limit.generation - 1
    limit.throttled(stale)  # admitted before the decrease: same burst
    assert limit.limit == 4

    for _ in range(5):
        limit.throttled(limit.generation)
    assert limit.limit == 1 and limit.lowest == 1


async def test_successes_restore_one_request_at_a_time_up_to_the_ceiling():
    limit = AdaptiveConcurrency(4)
    limit.throttled(limit.generation)
    assert limit.limit == 2

    for _ in range(RECOVERY_SUCCESSES - 1):
        limit.succeeded()
    assert limit.limit == 2
    limit.succeeded()
    assert limit.limit == 3

    for _ in range(RECOVERY_SUCCESSES * 5):
        limit.succeeded()
    assert limit.limit == 4


async def test_after_a_429_no_more_than_the_halved_limit_is_in_flight():
    throttle = Throttle(4)
    release = asyncio.Event()
    inside = 0
    most = 0

    async def request() -> None:
        nonlocal inside, most
        async with throttle.admitted():
            inside += 1
            most = max(most, inside)
            await release.wait()
            inside -= 1

    first = [asyncio.create_task(request()) for _ in range(4)]
    await asyncio.sleep(0)
    throttle.throttled(throttle.concurrency.generation)
    release.set()
    await asyncio.gather(*first)
    assert most == 4

    release.clear()
    most = 0
    second = [asyncio.create_task(request()) for _ in range(4)]
    for _ in range(5):
        await asyncio.sleep(0)
    assert inside == 2 and most == 2
    release.set()
    await asyncio.gather(*second)


class FakeTime:
    """A clock that moves only when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_a_retry_after_pause_holds_every_request_back():
    time_ = FakeTime()
    throttle = Throttle(2, clock=time_.clock, sleep=time_.sleep)
    throttle.pause(30)
    throttle.pause(5)  # a shorter pause never cuts a longer one short

    async with throttle.admitted():
        entered = time_.now

    assert entered == 30 and time_.slept == [30]


async def test_a_request_waits_until_the_one_a_budget_before_is_answered():
    time_ = FakeTime()
    rate = RequestRate(2, 10.0, clock=time_.clock, sleep=time_.sleep)
    order: list[str] = []

    async with rate.slot():
        async with rate.slot():
            time_.now = 3.0  # both answered at t=3 (the inner one first)
        order.append("two sent")
    async with rate.slot():
        order.append(f"third sent at {time_.now:g}")

    # The third waits for the first's interval: answered at 3, over at 13.
    assert order == ["two sent", "third sent at 13"]
