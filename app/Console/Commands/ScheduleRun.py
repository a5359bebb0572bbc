"""schedule:run: run the events due this minute (cron calls it every minute)."""
from __future__ import annotations

from cleo.io.outputs.output import Verbosity

from app.Console.Command import Command
from app.Console.Support.scheduling import scheduler_for
from app.Scheduling.CronExpression import minute_floor
from app.Scheduling.ScheduleRunner import Outcome


class ScheduleRunCommand(Command):
    name = "schedule:run"
    description = "Run the scheduled events that are due this minute (cron: * * * * * cd /app && python artisan schedule:run)"

    def run_command(self) -> int:
        scheduler = scheduler_for(self)
        minute = minute_floor(scheduler.clock.now())
        runs = scheduler.runner.run_minute(minute)
        scheduler.runner.wait_for_background()
        if not any(r.outcome in (Outcome.RAN, Outcome.FAILED, Outcome.STARTED) for r in runs):
            self.line("<comment>No scheduled events are ready to run.</comment>", verbosity=Verbosity.VERBOSE)
        return 0

