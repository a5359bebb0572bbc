"""Load the schedule from routes/console.py (`def schedule(schedule)`) and check it, failing with one line.

Every mistake (an invalid cron expression, an unknown time zone, `daily_at("25:00")`, a
command artisan does not have) is reported when the schedule is loaded, naming the event,
so `schedule:list` exits 1 at deploy time rather than an event failing at 3 am.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable

from app.Scheduling.errors import ScheduleError
from app.Scheduling.Frequencies import load_zone
from app.Scheduling.Schedule import Schedule
from config.env import env

DEFAULT_ROUTES = "routes.console:schedule"


def schedule_function(path: str) -> Callable[[Schedule], Any] | None:
    """Import `module:function` (SCHEDULE_ROUTES); None when the module has no such function."""
    module_name, _, func_name = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise ScheduleError(f"{module_name} cannot be imported: {exc}") from None
    except Exception as exc:
        raise ScheduleError(f"{module_name} cannot be imported: {type(exc).__name__}: {exc}") from None
    func = getattr(module, func_name or "schedule", None)
    return func if callable(func) else None


def load_schedule(command_exists: Callable[[str], bool] | None = None) -> Schedule:
    """Build and validate the application's schedule; `command_exists` checks command names."""
    tz = env("SCHEDULE_TIMEZONE", "UTC") or "UTC"
    try:
        load_zone(tz)
    except ValueError as exc:
        raise ScheduleError(f"SCHEDULE_TIMEZONE: {exc}") from None
    path = env("SCHEDULE_ROUTES", DEFAULT_ROUTES) or DEFAULT_ROUTES
    schedule = Schedule(tz, command_exists)
    define = schedule_function(path)
    if define is None:
        if path != DEFAULT_ROUTES:  # a typo in the setting must not silently empty the schedule
            raise ScheduleError(f"SCHEDULE_ROUTES: {path!r} is not an importable module:function")
        return schedule
    try:
        define(schedule)
    except ScheduleError:
        raise
    except Exception as exc:
        raise ScheduleError(f"{path} failed while defining the schedule: {type(exc).__name__}: {exc}") from None
    schedule.validate()
    return schedule
