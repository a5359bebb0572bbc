"""A scheduled event: what runs (a Task), when (cron expression + time zone), constraints and options.

An event is a value built fluently in routes/console.py; "is it due at t?" is a pure
function of it (`is_due`, `passes_filters`), and running it is the ScheduleRunner's job.
"""
from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Callable

from app.Scheduling.CronExpression import CronExpression
from app.Scheduling.errors import ScheduleError
from app.Scheduling.Frequencies import Frequencies, load_zone, parse_time
from app.Scheduling.Tasks import CommandTask, Task

DEFAULT_OVERLAP_MINUTES = 1440  # Laravel's default: a crashed run's mutex frees itself after a day
Condition = bool | Callable[[], Any]


class Event(Frequencies):
    """One entry of the schedule; builder methods return the event so calls chain."""

    def __init__(self, task: Task, tz_name: str = "UTC") -> None:
        self.task = task
        self.expression = "* * * * *"
        self.tz_name = tz_name
        self.label: str | None = None
        self.about = ""
        self.filters: list[Condition] = []
        self.rejects: list[Condition] = []
        self.windows: list[tuple[tuple[int, int], tuple[int, int], bool]] = []  # (start, end, inside?)
        self.only_in: tuple[str, ...] = ()
        self.overlap_minutes: float | None = None  # None: overlapping runs allowed
        self.one_server = False
        self.background = False
        self.problems: list[str] = []
        self._cron: CronExpression | None = None

    # -- identity ------------------------------------------------------------------------------
    def summary(self) -> str:
        """What runs: the command line, the job class or the function."""
        return self.task.summary()

    def display_name(self) -> str:
        """The event's name, or its summary when it has none."""
        return self.label or self.summary()

    def mutex_id(self) -> str:
        """A stable id for this event's locks and last result, the same on every server."""
        basis = f"name:{self.label}" if self.label else f"{self.task.kind}:{self.summary()}|{self.expression}|{self.tz_name}"
        return hashlib.sha1(basis.encode()).hexdigest()[:20]

    def _problem(self, message: str) -> None:
        self.problems.append(message)

    def error(self, message: str) -> ScheduleError:
        """An error naming this event."""
        return ScheduleError(f"schedule event [{self.display_name()}]: {message}")

    # -- options ---------------------------------------------------------------------------------
    def name(self, name: str) -> Event:
        """Name the event (schedule:list, schedule:test --name, and the key of its locks)."""
        if not str(name).strip():
            self._problem("name() must not be empty")
        else:
            self.label = str(name).strip()
        return self

    def description(self, text: str) -> Event:
        """Describe the event for schedule:list."""
        self.about = str(text)
        return self

    def without_overlapping(self, expires_after: float = DEFAULT_OVERLAP_MINUTES) -> Event:
        """Skip a due time while the previous run still holds the event's mutex (freed after `expires_after` minutes at most)."""
        if self.task.kind == "job":
            self._problem("without_overlapping() applies to commands and calls; "
                          "for a job use the WithoutOverlapping job middleware")
        elif isinstance(expires_after, bool) or not isinstance(expires_after, (int, float)) or expires_after <= 0:
            self._problem(f"without_overlapping({expires_after!r}): expires_after is a number of minutes > 0")
        else:
            self.overlap_minutes = float(expires_after)
        return self

    def on_one_server(self) -> Event:
        """Run each due time on one server only (a cache-store lock keyed by event and due minute)."""
        self.one_server = True
        return self

    def run_in_background(self) -> Event:
        """Start the command and go on with the next event without waiting for it (commands only)."""
        if not isinstance(self.task, CommandTask):
            self._problem("run_in_background() applies to commands only")
        else:
            self.background = True
        return self

    # -- constraints -----------------------------------------------------------------------------
    def when(self, condition: Condition) -> Event:
        """Run only when `condition` (a bool or a no-argument callable) is true at the due time."""
        if self._condition_ok(condition, "when"):
            self.filters.append(condition)
        return self

    def skip(self, condition: Condition) -> Event:
        """Skip the due time when `condition` (a bool or a no-argument callable) is true."""
        if self._condition_ok(condition, "skip"):
            self.rejects.append(condition)
        return self

    def between(self, start: str, end: str) -> Event:
        """Run only between `start` and `end` local time, inclusive ("22:00" to "6:00" spans midnight)."""
        return self._window(start, end, True, "between")

    def unless_between(self, start: str, end: str) -> Event:
        """Skip due times between `start` and `end` local time, inclusive."""
        return self._window(start, end, False, "unless_between")

    def environments(self, *names: str) -> Event:
        """Run only when APP_ENV is one of `names`."""
        if not names or not all(isinstance(n, str) and n.strip() for n in names):
            self._problem(f"environments{names!r}: name at least one environment")
        else:
            self.only_in = tuple(n.strip() for n in names)
        return self

    def _condition_ok(self, condition: Any, what: str) -> bool:
        if isinstance(condition, bool) or callable(condition):
            return True
        self._problem(f"{what}() takes a bool or a callable, got {condition!r}")
        return False

    def _window(self, start: str, end: str, inside: bool, what: str) -> Event:
        try:
            self.windows.append((parse_time(start, what), parse_time(end, what), inside))
        except ValueError as exc:
            self._problem(str(exc))
        return self

    # -- questions --------------------------------------------------------------------------------
    def cron_expression(self) -> CronExpression:
        """The event's expression in its time zone (built once per expression and zone)."""
        cached = self._cron
        if cached is None or (cached.expression, cached.tz.key) != (self.expression, self.tz_name):
            cached = self._cron = CronExpression(self.expression, load_zone(self.tz_name))
        return cached

    def is_due(self, minute: datetime, app_env: str) -> bool:
        """Whether the expression fires in `minute` and APP_ENV allows the event (filters not included)."""
        if self.only_in and app_env not in self.only_in:
            return False
        return self.cron_expression().is_due(minute)

    def in_windows(self, minute: datetime) -> bool:
        """Whether the local time of `minute` passes every between()/unless_between()."""
        local = minute.astimezone(load_zone(self.tz_name))
        now = (local.hour, local.minute)
        for start, end, inside in self.windows:
            within = start <= now <= end if start <= end else (now >= start or now <= end)
            if within != inside:
                return False
        return True

    def passes_filters(self, minute: datetime) -> bool:
        """Evaluate between(), when() and skip() for `minute` (callables run now; they may raise)."""
        if not self.in_windows(minute):
            return False
        if not all(_truth(f) for f in self.filters):
            return False
        return not any(_truth(r) for r in self.rejects)

    def next_due(self, after: datetime) -> datetime | None:
        """The next minute the expression fires after `after` (constraints not applied)."""
        return self.cron_expression().next_due(after)


def _truth(condition: Condition) -> bool:
    return bool(condition() if callable(condition) else condition)
