"""schedule:work's loop: run each minute once, at its start, catching up minutes a slow run overran.

Cron fires at the start of a minute, so the minute in which the worker starts is not run.
After that every minute is run exactly once, in order: when the events of one minute take
longer than a minute, the minutes that passed meanwhile run next, each judged at its own
due time (and claimed under its own key when on_one_server). A clock that jumps back never
re-runs a minute; a jump forward of more than MAX_CATCH_UP_MINUTES (a suspended machine)
runs only the current minute.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Callable

from app.Scheduling.Clock import Clock
from app.Scheduling.CronExpression import minute_floor

logger = logging.getLogger("app.Scheduling")
MINUTE = timedelta(minutes=1)
MAX_CATCH_UP_MINUTES = 60
NAP = 1.0  # longest real sleep between checks, so a stop request is seen quickly


class ScheduleWorker:
    """Calls `run_minute(minute)` once per minute of `clock` until `should_stop()` or the clock's stop time."""

    def __init__(self, clock: Clock, run_minute: Callable[[datetime], object], should_stop: Callable[[], bool]) -> None:
        self.clock = clock
        self.run_minute = run_minute
        self.should_stop = should_stop
        self.last: datetime | None = None

    def minutes_to_run(self, current: datetime) -> list[datetime]:
        """The minutes after the last one run, up to `current` (none when the clock went back)."""
        assert self.last is not None
        if current <= self.last:
            return []
        missed = int((current - self.last) / MINUTE)
        if missed > MAX_CATCH_UP_MINUTES:
            logger.warning("schedule:work: the clock jumped %d minutes ahead; running only %s", missed, current)
            return [current]
        return [self.last + MINUTE * i for i in range(1, missed + 1)]

    def tick(self) -> list[datetime]:
        """Run the minutes that are due now; returns them."""
        if self.last is None:
            self.last = minute_floor(self.clock.now())
        done = []
        for minute in self.minutes_to_run(minute_floor(self.clock.now())):
            if self.should_stop() or self._past_stop(minute):
                break
            self.run_minute(minute)
            self.last = minute
            done.append(minute)
        return done

    def _past_stop(self, minute: datetime) -> bool:
        stop = self.clock.stop_at()
        return stop is not None and minute > stop

    def run(self) -> None:
        """Loop until asked to stop (or past the test clock's stop minute)."""
        while not self.should_stop():
            self.tick()
            if self.last is not None and self._past_stop(self.last + MINUTE):
                return
            assert self.last is not None
            wait = (self.last + MINUTE - self.clock.now()).total_seconds()
            self.clock.sleep(min(max(wait, 0.0) + 0.001, NAP * self.clock.speed))
