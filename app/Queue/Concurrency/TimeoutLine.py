"""The soft timeouts of the async jobs on one event loop: one timer for all of them, not one per job.

`asyncio.timeout` makes a Timeout, a TimerHandle pushed on the loop's heap (ordered by Python
comparisons) and a cancelled handle left behind for every job. Here the jobs that share a timeout
(nearly all: it is per job class) form a line in start order, so their deadlines come in order too;
a job joining or leaving its line is one dict write, and a single timer, set for the earliest
deadline of all lines, fires when the oldest job of a line has run out of time. That job is marked
`timed_out` and its task cancelled; ConcurrentWorker turns the cancellation into JobTimeoutError.
"""
from __future__ import annotations

import asyncio
import math
from collections import OrderedDict
from typing import Callable

from app.Queue.Concurrency.Flight import Flight


class TimeoutLine:
    """On the loop's thread only: `add(flight, seconds)` when its job starts, `discard` when it ends."""

    def __init__(self, loop: asyncio.AbstractEventLoop, expired: Callable[[Flight], None]) -> None:
        self._loop = loop
        self._expired = expired
        self._lines: dict[float, OrderedDict[Flight, float]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf

    def add(self, flight: Flight, seconds: float) -> None:
        """Give `flight` `seconds` from now; its line keeps start order, so its deadline is the line's latest."""
        line = self._lines.get(seconds)
        if line is None:
            line = self._lines[seconds] = OrderedDict()
        at = self._loop.time() + seconds
        line[flight] = at
        if at < self._timer_at:
            self._set_timer(at)

    def discard(self, flight: Flight, seconds: float) -> None:
        """The job ended (or was cancelled): it leaves its line."""
        line = self._lines.get(seconds)
        if line is not None:
            line.pop(flight, None)

    def __len__(self) -> int:
        return sum(len(line) for line in self._lines.values())

    def _set_timer(self, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(at, self._fire)
        self._timer_at = at

    def _fire(self) -> None:
        """Hand every job past its deadline to `expired`; set the timer for the next deadline, if any."""
        self._timer, self._timer_at = None, math.inf
        now = self._loop.time()
        upcoming = math.inf
        for seconds, line in list(self._lines.items()):
            while line:
                flight, at = next(iter(line.items()))
                if at > now:
                    upcoming = min(upcoming, at)
                    break
                del line[flight]
                self._expired(flight)
            if not line:
                del self._lines[seconds]
        if upcoming < math.inf:
            self._set_timer(upcoming)
