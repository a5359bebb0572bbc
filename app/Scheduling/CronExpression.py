"""When a five-field cron expression is due in a time zone, with Vixie cron's DST rules.

croniter parses and matches the expression against local wall-clock minutes; this module
maps wall-clock minutes to real (UTC) minutes the way cron does across DST changes:

- A *fixed-time* entry (neither the minute nor the hour field starts with `*`) that falls in
  a skipped interval (spring forward: 02:30 does not exist) runs once, at the first minute
  after the gap; one that falls in a repeated interval (fall back: 01:30 happens twice)
  runs only the first time.
- A *wildcard* entry (`* * * * *`, `*/5 * * * *`, `17 * * * *`) follows the clock as it is:
  it does not run for skipped minutes and runs again in the repeated hour, so it keeps
  running at its real-time pace.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from croniter import croniter  # type: ignore[import-untyped]
from croniter.croniter import CroniterError  # type: ignore[import-untyped]

MINUTE = timedelta(minutes=1)
UTC = timezone.utc
# Offsets change a few times a year at most; look for the next change in steps this long.
TRANSITION_PROBE = timedelta(days=7)
MAX_SEGMENTS = 40  # about ten years of DST changes; a due time further away counts as never


def validate(expression: str) -> str | None:
    """Say what is wrong with `expression` (None when it is a valid five-field cron expression)."""
    fields = expression.split()
    if len(fields) != 5:
        return f"a cron expression has 5 fields (minute hour day month weekday), got {len(fields)} in {expression!r}"
    if not croniter.is_valid(expression):
        return f"invalid cron expression {expression!r}"
    return None


def minute_floor(t: datetime) -> datetime:
    """The start of the minute containing `t`, in UTC."""
    return t.astimezone(UTC).replace(second=0, microsecond=0)


def _naive_utc(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(tzinfo=None)


class CronExpression:
    """A cron expression in a time zone: `is_due(minute)` and `next_due(after)`, consistent with each other."""

    def __init__(self, expression: str, tz: ZoneInfo) -> None:
        problem = validate(expression)
        if problem:
            raise ValueError(problem)
        self.expression = " ".join(expression.split())
        self.tz = tz
        minute, hour = self.expression.split()[:2]
        self.fixed_time = not minute.startswith("*") and not hour.startswith("*")

    def matches_wall(self, wall: datetime) -> bool:
        """Whether the expression matches a naive wall-clock minute."""
        return bool(croniter.match(self.expression, wall))

    # Helpers avoid datetime.fold: freezegun's datetimes drop it, and the results must not depend on the clock used.
    def _wall(self, t: datetime) -> datetime:
        """The naive local wall-clock time of the instant `t`."""
        return t.astimezone(self.tz).replace(tzinfo=None, fold=0)

    def _offset(self, t: datetime) -> timedelta:
        """The zone's UTC offset at the instant `t`."""
        return self._wall(t) - _naive_utc(t)

    def _is_repeat(self, t: datetime) -> bool:
        """Whether the instant `t` is the second pass through its wall-clock time (after a fall-back)."""
        first = self._wall(t).replace(tzinfo=self.tz).astimezone(UTC)  # fold=0: the earlier of two readings
        return first < t

    def is_due(self, t: datetime) -> bool:
        """Whether the event runs in the (UTC) minute starting at `t`."""
        t = minute_floor(t)
        if self.fixed_time and self._is_repeat(t):
            return False
        wall = self._wall(t)
        if self.matches_wall(wall):
            return True
        if not self.fixed_time:
            return False
        previous_wall = self._wall(t - MINUTE)
        if wall - previous_wall <= MINUTE:
            return False
        # Spring forward: the wall clock skipped (previous_wall, wall); a fixed time in the gap runs now.
        try:
            return self._next_wall(previous_wall) < wall
        except CroniterError:  # the expression never matches again (e.g. February 31st)
            return False

    def _next_wall(self, wall: datetime) -> datetime:
        found: datetime = croniter(self.expression, wall).get_next(datetime)
        return found

    def next_due(self, after: datetime) -> datetime | None:
        """The first UTC minute strictly after `after` in which the event is due (None: not within ~10 years)."""
        cursor = minute_floor(after)
        for _ in range(MAX_SEGMENTS):
            offset = self._offset(cursor)
            change = self._next_offset_change(cursor, offset)
            found = self._next_in_segment(cursor, offset, change)
            if found is not None:
                return found
            if change is None:
                return None
            if self.is_due(change):  # a gap entry runs at the change, or the first minute of the new offset matches
                return change
            cursor = change
        return None

    def _next_in_segment(self, cursor: datetime, offset: timedelta, end: datetime | None) -> datetime | None:
        """The first due minute after `cursor` while the UTC offset stays `offset` (before `end`)."""
        wall = self._wall(cursor)
        for _ in range(120):  # only repeats of a fall-back hour are skipped, at most 60 of them
            try:
                wall = self._next_wall(wall)
            except CroniterError:
                return None
            t = (wall - offset).replace(tzinfo=UTC)
            if end is not None and t >= end:
                return None
            if not (self.fixed_time and self._is_repeat(t)):
                return t
        return None

    def _next_offset_change(self, cursor: datetime, offset: timedelta) -> datetime | None:
        """The first UTC minute after `cursor` with a different UTC offset (None within a year and a half)."""
        low = cursor
        for _ in range(80):
            high = low + TRANSITION_PROBE
            if self._offset(high) != offset:
                while high - low > MINUTE:  # binary search to the minute
                    mid = minute_floor(low + (high - low) / 2)
                    if self._offset(mid) == offset:
                        low = mid
                    else:
                        high = mid
                return high
            low = high
        return None
