"""schedule:work: run the scheduler in the foreground, once at the start of every minute."""
from __future__ import annotations

import signal
import threading
from typing import Any

from app.Console.Command import Command
from app.Console.Support.scheduling import scheduler_for
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
            ScheduleWorker(scheduler.clock, scheduler.runner.run_minute, stop.is_set).run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        scheduler.runner.wait_for_background()
        return 0
