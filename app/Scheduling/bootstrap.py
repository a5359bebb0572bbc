"""Wire a scheduler for artisan commands: the loaded schedule, its clock, mutexes, results and runner."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from app.Scheduling.Clock import Clock, clock_from_setting
from app.Scheduling.LastResults import LastResults
from app.Scheduling.Mutexes import ScheduleMutexes
from app.Scheduling.Schedule import Schedule
from app.Scheduling.ScheduleLoader import load_schedule
from app.Scheduling.ScheduleRunner import ScheduleRunner
from config.app import app_env
from config.env import env
from app.Queue.QueueManager import manager


@dataclass
class Scheduler:
    """Everything a schedule:* command needs."""

    schedule: Schedule
    clock: Clock
    runner: ScheduleRunner
    results: LastResults


def build_scheduler(command_exists: Callable[[str], bool] | None, report: Callable[[str], None] | None = None) -> Scheduler:
    """Load routes/console.py's schedule (raising ScheduleError on a mistake) and build its runner."""
    environment = app_env()
    clock = clock_from_setting(env("SCHEDULE_TEST_CLOCK"), environment)
    schedule = load_schedule(command_exists)
    qm = manager()
    results = LastResults(qm)
    runner = ScheduleRunner(schedule, ScheduleMutexes(qm), results, environment, report)
    return Scheduler(schedule, clock, runner, results)
