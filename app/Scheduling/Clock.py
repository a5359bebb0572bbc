"""The scheduler's clock: real time from the one time helper, or a scaled test clock.

`SCHEDULE_TEST_CLOCK` (testing only; refused when APP_ENV=production) is JSON
`{"origin": unix, "anchor": unix, "speed": n, "stop": unix}`: the scheduler's time is
origin + (real - anchor) * speed, so two real `schedule:work` processes given the same value
agree on the time and walk through many minutes in a few seconds, taking the real locks;
`stop` (optional) makes schedule:work exit after running that minute.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from app.Queue.Support.time import now
from app.Scheduling.errors import ScheduleError

UTC = timezone.utc


@dataclass(frozen=True)
class Clock:
    """Scheduler time: `origin + (real - anchor) * speed` (the real clock has speed 1, origin = anchor = 0)."""

    origin: float = 0.0
    anchor: float = 0.0
    speed: float = 1.0
    stop: float | None = None

    def now(self) -> datetime:
        """The current scheduler time, aware UTC."""
        return datetime.fromtimestamp(self.origin + (now() - self.anchor) * self.speed, UTC)

    def sleep(self, seconds: float) -> None:
        """Sleep `seconds` of scheduler time."""
        if seconds > 0:
            time.sleep(seconds / self.speed)

    def stop_at(self) -> datetime | None:
        """The last minute schedule:work runs before exiting (test clock only)."""
        return None if self.stop is None else datetime.fromtimestamp(self.stop, UTC)


def clock_from_setting(raw: str | None, app_env: str) -> Clock:
    """The real clock, or the test clock described by SCHEDULE_TEST_CLOCK."""
    if not raw:
        return Clock()
    if app_env == "production":
        raise ScheduleError("SCHEDULE_TEST_CLOCK is for tests and is refused when APP_ENV=production")
    try:
        data = json.loads(raw)
        clock = Clock(float(data["origin"]), float(data["anchor"]), float(data.get("speed", 1)),
                      None if data.get("stop") is None else float(data["stop"]))
    except (ValueError, TypeError, KeyError, AttributeError):
        raise ScheduleError('SCHEDULE_TEST_CLOCK must be JSON like {"origin": 1700000000, "anchor": 1700000000, '
                            '"speed": 60}') from None
    if not 0 < clock.speed <= 3600:
        raise ScheduleError(f"SCHEDULE_TEST_CLOCK speed must be between 0 and 3600, got {clock.speed:g}")
    return clock
