"""Run the events due in one minute: constraints, on_one_server claim, overlap mutex, run, record.

An event that raises (or whose constraint raises) is logged with its traceback and
recorded as the event's last result; the other events of the minute still run.
"""
from __future__ import annotations

import logging
import socket
import threading
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Callable

from app.Queue.Support.time import now
from app.Scheduling.Event import Event
from app.Scheduling.LastResults import LastResult, LastResults
from app.Scheduling.Mutexes import ScheduleMutexes
from app.Scheduling.RunContext import reset_due_time, set_due_time
from app.Scheduling.Schedule import Schedule
from app.Scheduling.Tasks import TaskFailed

logger = logging.getLogger("app.Scheduling")


class Outcome(StrEnum):
    """What happened to a due event in one minute."""

    RAN = "ran"
    FAILED = "failed"
    STARTED = "started"          # a background command is running
    FILTERED = "filtered"        # between/when/skip said no
    ELSEWHERE = "elsewhere"      # on_one_server: another server claimed this due time
    OVERLAPPING = "overlapping"  # without_overlapping: the previous run still holds the mutex


@dataclass(frozen=True)
class EventRun:
    """One due event's outcome in one minute."""

    event: Event
    minute: datetime
    outcome: Outcome
    message: str = ""


class ScheduleRunner:
    """Runs due events; `report(line)` receives one human line per event run (schedule:run prints them)."""

    def __init__(self, schedule: Schedule, mutexes: ScheduleMutexes, results: LastResults, app_env: str,
                 report: Callable[[str], None] | None = None) -> None:
        self.schedule = schedule
        self.mutexes = mutexes
        self.results = results
        self.app_env = app_env
        self.report = report or (lambda line: None)
        self.background: list[threading.Thread] = []

    def run_minute(self, minute: datetime) -> list[EventRun]:
        """Run every event due in `minute`, in the order routes/console.py registered them."""
        runs = []
        for event in self.schedule.due_events(minute, self.app_env):
            try:
                runs.append(self.run_due(event, minute))
            except Exception as exc:  # the store failed us: log it and go on with the next event
                logger.exception("schedule: event [%s] could not be started for %s", event.display_name(), minute)
                runs.append(EventRun(event, minute, Outcome.FAILED, f"{type(exc).__name__}: {exc}"))
        return runs

    def run_due(self, event: Event, minute: datetime) -> EventRun:
        """Run one event for its due `minute` unless a constraint, another server or a running copy says no."""
        try:
            if not event.passes_filters(minute):
                return EventRun(event, minute, Outcome.FILTERED)
        except Exception as exc:
            logger.exception("schedule: a constraint of event [%s] raised", event.display_name())
            return self._finish(event, minute, now(), exc, "")
        if event.one_server and not self.mutexes.claim(event, minute):
            return EventRun(event, minute, Outcome.ELSEWHERE)
        if event.overlap_minutes and not self.mutexes.lock_overlap(event):
            return EventRun(event, minute, Outcome.OVERLAPPING)
        if event.background:
            thread = threading.Thread(target=self.execute, args=(event, minute), name=f"schedule-{event.mutex_id()}")
            self.background = [t for t in self.background if t.is_alive()] + [thread]
            thread.start()
            return EventRun(event, minute, Outcome.STARTED)
        return self.execute(event, minute)

    def execute(self, event: Event, minute: datetime) -> EventRun:
        """Run the event's task now (no constraints or claims), release its mutex, record the result."""
        started = now()
        self._record(event, LastResult("running", int(minute.timestamp()), started, 0.0, "", socket.gethostname()))
        token = set_due_time(minute)
        error: BaseException | None = None
        note = ""
        try:
            note = event.task.run()
        except TaskFailed as exc:  # the child's own output says why; our traceback would not
            error = exc
            logger.error("schedule: event [%s] failed: %s\n%s", event.display_name(), exc, exc.output.rstrip())
        except Exception as exc:
            error = exc
            logger.error("schedule: event [%s] failed", event.display_name(), exc_info=True)
        finally:
            reset_due_time(token)
            if event.overlap_minutes:
                self._release(event)
        return self._finish(event, minute, started, error, note)

    def _finish(self, event: Event, minute: datetime, started: float, error: BaseException | None, note: str) -> EventRun:
        took = max(0.0, now() - started)
        message = _one_line(error) if error is not None else note
        self._record(event, LastResult("failed" if error else "ok", int(minute.timestamp()), started, took,
                                       message, socket.gethostname()))
        stamp = minute.strftime("%Y-%m-%d %H:%M")
        verdict = "FAIL" if error else "DONE"
        self.report(f"{stamp} [{event.display_name()}] {verdict} {took:.2f}s" + (f" {message}" if message else ""))
        return EventRun(event, minute, Outcome.FAILED if error else Outcome.RAN, message)

    def _record(self, event: Event, result: LastResult) -> None:
        try:
            self.results.record(event, result)
        except Exception:  # a result we cannot store must not hide the run itself
            logger.exception("schedule: could not store the last result of [%s]", event.display_name())

    def _release(self, event: Event) -> None:
        try:
            self.mutexes.release_overlap(event)
        except Exception:
            logger.exception("schedule: could not release the overlap mutex of [%s]", event.display_name())

    def wait_for_background(self, timeout: float | None = None) -> None:
        """Wait for background commands started by this runner."""
        for thread in self.background:
            thread.join(timeout)


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    if isinstance(exc, TaskFailed):
        return lines[0] if lines else "failed"
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
