"""The fluent frequency methods of a scheduled event: each rewrites fields of its cron expression.

As in Laravel, methods compose by field: `weekly_on(1, "8:00")` sets minute, hour and
weekday; `daily().weekdays()` keeps 00:00 and narrows the days. Bad values raise a
ScheduleError naming the event (by its final name) once routes/console.py's schedule() returns.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.Scheduling.CronExpression import validate

DAY_NAMES = {"sunday": 0, "monday": 1, "tuesday": 2, "wednesday": 3, "thursday": 4, "friday": 5, "saturday": 6}


def parse_time(value: str, what: str) -> tuple[int, int]:
    """Turn "13:00" / "8:05" into (hour, minute), or raise ValueError saying what is wrong."""
    hour_text, sep, minute_text = str(value).strip().partition(":")
    if not sep:
        minute_text = "0"
    if not (hour_text.isdigit() and minute_text.isdigit() and len(minute_text) <= 2):
        raise ValueError(f"{what}({value!r}): a time is written HH:MM, like \"13:00\"")
    hour, minute = int(hour_text), int(minute_text)
    if hour > 23 or minute > 59:
        raise ValueError(f"{what}({value!r}): hour must be 0-23 and minute 0-59")
    return hour, minute


def load_zone(name: str) -> ZoneInfo:
    """The IANA time zone `name` (ValueError when unknown)."""
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name like \"Europe/Berlin\" or \"UTC\")") from None


def _time_fields(value: str, what: str) -> dict[str, int]:
    hour, minute = parse_time(value, what)
    return {"minute": minute, "hour": hour}


def _weekday(day: Any, what: str) -> int:
    if isinstance(day, str) and day.strip().lower() in DAY_NAMES:
        return DAY_NAMES[day.strip().lower()]
    if isinstance(day, int) and not isinstance(day, bool) and 0 <= day <= 7:
        return day % 7
    raise ValueError(f"{what}({day!r}): a weekday is 0-6 (0 = Sunday) or a day name")


def _in_range(value: Any, low: int, high: int, what: str, unit: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{what}({value!r}): {unit} must be a whole number {low}-{high}")
    return value


class Frequencies(ABC):
    """Mixin: `expression` (five cron fields) and `tz` plus the builders that set them."""

    expression: str = "* * * * *"
    tz_name: str = "UTC"

    @abstractmethod
    def _problem(self, message: str) -> None:
        """Remember a mistake; the loader reports it with the event's final name."""

    def _splice(self, **fields: Any) -> Self:
        names = ["minute", "hour", "day", "month", "weekday"]
        parts = self.expression.split()
        for name, value in fields.items():
            parts[names.index(name)] = str(value)
        self.expression = " ".join(parts)
        return self

    def _apply(self, build: Any) -> Self:
        """Splice the fields `build()` returns, or record its ValueError and leave the expression as it was."""
        try:
            fields = build()
        except ValueError as exc:
            self._problem(str(exc))
            return self
        return self._splice(**fields)

    # -- raw -----------------------------------------------------------------------------
    def cron(self, expression: str) -> Self:
        """Run on a five-field cron expression (minute hour day month weekday)."""
        problem = validate(str(expression))
        if problem:
            self._problem(f"cron(): {problem}")
        else:
            self.expression = " ".join(str(expression).split())
        return self

    def timezone(self, name: str) -> Self:
        """Read the expression in time zone `name` (an IANA name); DST follows cron's rules."""
        try:
            load_zone(name)
        except ValueError as exc:
            self._problem(str(exc))
            return self
        self.tz_name = str(name)
        return self

    # -- minutes and hours ---------------------------------------------------------------
    def every_minute(self) -> Self:
        """Run every minute."""
        return self._splice(minute="*")

    def every_two_minutes(self) -> Self:
        """Run every two minutes."""
        return self._splice(minute="*/2")

    def every_five_minutes(self) -> Self:
        """Run every five minutes."""
        return self._splice(minute="*/5")

    def every_ten_minutes(self) -> Self:
        """Run every ten minutes."""
        return self._splice(minute="*/10")

    def every_fifteen_minutes(self) -> Self:
        """Run every fifteen minutes."""
        return self._splice(minute="*/15")

    def every_thirty_minutes(self) -> Self:
        """Run every thirty minutes."""
        return self._splice(minute="*/30")

    def hourly(self) -> Self:
        """Run at the start of every hour."""
        return self._splice(minute=0)

    def hourly_at(self, minute: int) -> Self:
        """Run every hour at `minute` past."""
        return self._apply(lambda: {"minute": _in_range(minute, 0, 59, "hourly_at", "the minute")})

    # -- days ----------------------------------------------------------------------------
    def daily(self) -> Self:
        """Run every day at midnight."""
        return self._splice(minute=0, hour=0)

    def daily_at(self, time: str) -> Self:
        """Run every day at `time` ("13:00")."""
        return self._apply(lambda: _time_fields(time, "daily_at"))

    def at(self, time: str) -> Self:
        """Alias of daily_at: run at `time` on the days already chosen."""
        return self._apply(lambda: _time_fields(time, "at"))

    def twice_daily(self, first: int = 1, second: int = 13) -> Self:
        """Run every day at two whole hours."""
        return self.twice_daily_at(first, second, 0)

    def twice_daily_at(self, first: int, second: int, minute: int = 0) -> Self:
        """Run every day at `first`:`minute` and `second`:`minute`."""
        return self._apply(lambda: {
            "minute": _in_range(minute, 0, 59, "twice_daily_at", "the minute"),
            "hour": f"{_in_range(first, 0, 23, 'twice_daily', 'the hour')},{_in_range(second, 0, 23, 'twice_daily', 'the hour')}",
        })

    def weekdays(self) -> Self:
        """Run only Monday to Friday."""
        return self._splice(weekday="1-5")

    def weekends(self) -> Self:
        """Run only on Saturday and Sunday."""
        return self._splice(weekday="6,0")

    def days(self, *days: int | str) -> Self:
        """Run only on these weekdays (0 = Sunday, or names)."""
        if not days:
            self._problem("days(): name at least one weekday")
            return self
        return self._apply(lambda: {"weekday": ",".join(str(_weekday(d, "days")) for d in days)})

    def mondays(self) -> Self:
        """Run only on Mondays."""
        return self.days(1)

    def sundays(self) -> Self:
        """Run only on Sundays."""
        return self.days(0)

    # -- weeks, months, years ----------------------------------------------------------------
    def weekly(self) -> Self:
        """Run every Sunday at midnight."""
        return self._splice(minute=0, hour=0, weekday=0)

    def weekly_on(self, day: int | str, time: str = "0:00") -> Self:
        """Run every week on `day` (0 = Sunday, or a name) at `time`."""
        return self._apply(lambda: {"weekday": _weekday(day, "weekly_on"), **_time_fields(time, "weekly_on")})

    def monthly(self) -> Self:
        """Run on the first day of every month at midnight."""
        return self._splice(minute=0, hour=0, day=1)

    def monthly_on(self, day: int = 1, time: str = "0:00") -> Self:
        """Run every month on day `day` (1-31) at `time`."""
        return self._apply(lambda: {"day": _in_range(day, 1, 31, "monthly_on", "the day"), **_time_fields(time, "monthly_on")})

    def quarterly(self) -> Self:
        """Run on the first day of every quarter at midnight."""
        return self._splice(minute=0, hour=0, day=1, month="1-12/3")

    def yearly(self) -> Self:
        """Run on January 1st at midnight."""
        return self._splice(minute=0, hour=0, day=1, month=1)
