"""The schedule: the events routes/console.py registers with `schedule.job/command/call`."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable

from app.Queue.Support.time import utcnow
from app.Scheduling.errors import ScheduleError
from app.Scheduling.Event import Event
from app.Scheduling.Tasks import CallTask, CommandTask, JobTask
from app.Jobs.Job import Job

if TYPE_CHECKING:
    from app.Jobs.Job import Job


class Schedule:
    """Collects events; `command_exists` says which artisan commands exist (checked when loading)."""

    def __init__(self, timezone: str = "UTC", command_exists: Callable[[str], bool] | None = None) -> None:
        self.default_timezone = timezone
        self.command_exists = command_exists
        self.events: list[Event] = []

    def _add(self, event: Event) -> Event:
        self.events.append(event)
        return event

    def job(self, job: Job, queue: str | None = None, connection: str | None = None) -> Event:
        """Dispatch (a copy of) `job` each time the event is due."""
        if not isinstance(job, Job):
            raise ScheduleError(f"schedule.job() takes a Job instance, got {job!r}")
        return self._add(Event(JobTask(job, queue, connection), self.default_timezone))

    def command(self, command: str, parameters: list[str] | None = None) -> Event:
        """Run `python artisan <command>` (a child process) each time the event is due."""
        try:
            task = CommandTask(str(command), parameters)
        except ValueError as exc:  # shlex: unbalanced quotes
            raise ScheduleError(f"schedule.command({command!r}): {exc}") from None
        if not task.argv:
            raise ScheduleError("schedule.command() needs a command name")
        return self._add(Event(task, self.default_timezone))

    def call(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Event:
        """Call `func(*args, **kwargs)` in the scheduler process each time the event is due."""
        try:
            task = CallTask(func, args, kwargs)
        except TypeError as exc:
            raise ScheduleError(str(exc)) from None
        return self._add(Event(task, self.default_timezone))

    def has_command(self, name: str) -> bool:
        """Whether artisan has command `name` (to schedule optional commands only when installed)."""
        return bool(self.command_exists and self.command_exists(name))

    def validate(self) -> None:
        """Check every event once it is fully built: its expression, its command, its unique id."""
        seen: dict[str, Event] = {}
        for event in self.events:
            problem = event.problems[0] if event.problems else _expression_problem(event)
            if problem:
                raise event.error(problem)
            if isinstance(event.task, CommandTask) and self.command_exists and not self.command_exists(event.task.name):
                raise event.error(f"there is no artisan command named {event.task.name!r}")
            other = seen.get(event.mutex_id())
            if other is not None:
                raise event.error("two events have the same name or run the same thing at the same times; "
                                  "give each its own name()")
            seen[event.mutex_id()] = event

    def due_events(self, minute: datetime, app_env: str) -> list[Event]:
        """The events whose expression fires in `minute` (constraints are checked when running)."""
        return [e for e in self.events if e.is_due(minute, app_env)]

    def find(self, name: str) -> list[Event]:
        """Events whose name or summary is `name` (exact), else those that contain it."""
        exact = [e for e in self.events if name in (e.label, e.summary())]
        return exact or [e for e in self.events if name in e.display_name()]


def _expression_problem(event: Event) -> str | None:
    try:
        cron = event.cron_expression()
    except ValueError as exc:
        return str(exc)
    if cron.next_due(utcnow()) is None:
        return f"the cron expression {event.expression!r} never comes due"
    return None
