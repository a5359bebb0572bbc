"""schedule:work: run the scheduler in the foreground, once at the start of every minute."""
from __future__ import annotations

import signal
import threading
from collections import Counter
from datetime import datetime
from typing import Any

from app.Console.Command import Command
from app.Console.Support.scheduling import scheduler_for
from app.Scheduling.bootstrap import Scheduler
from app.Scheduling.ScheduleWorker import ScheduleWorker


class ScheduleWorkCommand(Command):
    name = "schedule:work"
    description = "Run the schedule in the foreground: every minute, never skipping or repeating one (for systemd or a terminal)"

    def run_command(self) -> int:
        scheduler = scheduler_for(self)
        stop = threading.Event()

        def request_stop(signum: int, _frame: Any) -> None:
            stop.set()

        previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.line(f"<info>Running {len(scheduler.schedule.events)} scheduled event(s) at the start of every minute.</info>")
            ScheduleWorker(scheduler.clock, lambda minute: self._run_minute(scheduler, minute), stop.is_set).run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        scheduler.runner.wait_for_background()
        return 0

    def _run_minute(self, scheduler: Scheduler, minute: datetime) -> None:
        runs = scheduler.runner.run_minute(minute)
        if self.io.is_verbose():  # -v: one line per minute, also when nothing ran here
            counts = Counter(run.outcome.value for run in runs)
            detail = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
            self.line(f"{minute:%Y-%m-%d %H:%M} {len(runs)} due" + (f": {detail}" if detail else ""))
