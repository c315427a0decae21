"""Admission of requests: how many at once, how many per interval, and when.

Every attempt the HTTP client sends passes three gates:

- an in-flight limit that adapts the way TCP congestion control does
  (AIMD): a 429 halves it, a run of successes adds one back, always
  between 1 and the configured concurrency;
- an optional request rate from the provider description
  (``http.rateLimit``), kept as a sliding window so that no interval of
  ``perSeconds`` ever holds more than ``requests`` arrivals at the service;
- a pause that every request honours once the service named a
  ``Retry-After``: Slack's limits count the whole organisation and Zoom's
  the whole account, so when one request is told to wait, the others
  would only collect 429s of their own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

#: Successes in a row that earn one more request in flight (slow recovery).
RECOVERY_SUCCESSES = 10
_PENDING = float("inf")  # a request sent and not yet answered


class AdaptiveConcurrency:
    """An in-flight limit: halved on 429, raised by one after successes.

    Permits live in an asyncio.Semaphore; lowering the limit leaves a debt
    that the next releases pay by keeping their permit, so requests already
    in flight finish undisturbed.
    """

    def __init__(self, ceiling: int, recover_after: int = RECOVERY_SUCCESSES) -> None:
        self.ceiling = max(1, ceiling)
        self.limit = self.ceiling
        self.lowest = self.ceiling
        self.generation = 0
        self._recover_after = recover_after
        self._successes = 0
        self._debt = 0
        self._permits = asyncio.Semaphore(self.ceiling)

    async def acquire(self) -> int:
        """Wait for a permit; returns the generation the request starts in."""
        await self._permits.acquire()
        return self.generation

    def release(self) -> None:
        """Give a permit back, or keep it while the limit is being lowered."""
        if self._debt:
            self._debt -= 1
            return
        self._permits.release()

    def throttled(self, generation: int) -> None:
        """A 429: halve the limit, once per generation of requests.

        Requests admitted before the last decrease were sent at the old rate;
        their 429s say nothing new, so only the first one of a burst counts.
        """
        self._successes = 0
        if generation != self.generation or self.limit == 1:
            return

        lowered = max(1, self.limit // 2)
        self._debt += self.limit - lowered
        self.limit = lowered
        self.lowest = min(self.lowest, lowered)
        self.generation += 1
        logger.info("rate-limited: %d request(s) in flight from now on", lowered)

    def succeeded(self) -> None:
        """A success; enough of them in a row raise the limit by one."""
        if self.limit >= self.ceiling:
            return
        self._successes += 1
        if self._successes < self._recover_after:
            return

        self._successes = 0
        self.limit += 1
        if self._debt:
            self._debt -= 1
        else:
            self._permits.release()
        logger.debug("%d request(s) in flight allowed again", self.limit)


class RequestRate:
    """At most ``requests`` sends in any interval of ``per_seconds``.

    The service counts requests when they arrive, which is some time after
    we send them, and not in the order we sent them. So a request opens
    its interval when its answer is back (by then the service surely had
    it), and a send waits until the request ``requests`` places before it
    is answered and its interval is over. Every interval of the service's
    clock then holds at most ``requests`` arrivals, whatever the latency.
    """

    def __init__(
        self,
        requests: int,
        per_seconds: float,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.requests = requests
        self.per_seconds = per_seconds
        self._clock = clock
        self._sleep = sleep
        self._window: deque[list[float]] = deque(maxlen=requests)
        self._turn = asyncio.Lock()
        self._answered = asyncio.Event()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait for a place in the window, then hold it until answered."""
        entry = await self._reserve()
        try:
            yield
        finally:
            entry[0] = self._clock()
            self._answered.set()

    async def _reserve(self) -> list[float]:
        async with self._turn:
            while len(self._window) == self.requests:
                oldest = self._window[0][0]
                if oldest == _PENDING:
                    self._answered.clear()
                    await self._answered.wait()
                    continue
                delay = oldest + self.per_seconds - self._clock()
                if delay <= 0:
                    break
                await self._sleep(delay)
            entry = [_PENDING]
            self._window.append(entry)
            return entry


class Throttle:
    """The three gates every attempt passes; see the module docstring."""

    def __init__(
        self,
        concurrency: int,
        rate: RequestRate | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.concurrency = AdaptiveConcurrency(concurrency)
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._resume_at = 0.0

    @asynccontextmanager
    async def admitted(self) -> AsyncIterator[int]:
        """Hold a slot for one attempt; yields the generation it starts in."""
        generation = await self.concurrency.acquire()
        try:
            await self._paused()
            async with self._rate_slot():
                yield generation
        finally:
            self.concurrency.release()

    def pause(self, seconds: float) -> None:
        """Hold every request back for ``seconds`` (a Retry-After)."""
        if seconds > 0:
            self._resume_at = max(self._resume_at, self._clock() + seconds)

    def throttled(self, generation: int) -> None:
        """The service answered 429 to a request of ``generation``."""
        self.concurrency.throttled(generation)

    def succeeded(self) -> None:
        """The service answered a request without throttling it."""
        self.concurrency.succeeded()

    def _rate_slot(self) -> AbstractAsyncContextManager[None]:
        return self.rate.slot() if self.rate is not None else nullcontext()

    async def _paused(self) -> None:
        while (delay := self._resume_at - self._clock()) > 0:
            await self._sleep(delay)
