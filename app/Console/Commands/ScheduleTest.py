"""schedule:test: run one scheduled event now, whatever its schedule and constraints."""
from __future__ import annotations

from cleo.helpers import option

from app.Console.Command import Command, UsageError, stdin_is_tty
from app.Console.Support.scheduling import escape, scheduler_for
from app.Scheduling.CronExpression import minute_floor
from app.Scheduling.Event import Event
from app.Scheduling.Schedule import Schedule
from app.Scheduling.ScheduleRunner import Outcome


class ScheduleTestCommand(Command):
    name = "schedule:test"
    description = "Run one scheduled event now (ignores its frequency, constraints and on_one_server)"
    options = [option("name", None, "The event's name or command (a unique part of it is enough)", flag=False)]

    def run_command(self) -> int:
        scheduler = scheduler_for(self)
        event = self._choose(scheduler.schedule, self.option("name"))
        self.line(f"Running [{escape(event.display_name())}]")
        run = scheduler.runner.execute(event, minute_floor(scheduler.clock.now()))
        return 1 if run.outcome is Outcome.FAILED else 0

    def _choose(self, schedule: Schedule, name: str | None) -> Event:
        if not schedule.events:
            raise UsageError("there are no scheduled events (routes/console.py, def schedule(schedule))")
        if name:
            found = schedule.find(name)
            if len(found) == 1:
                return found[0]
            names = ", ".join(e.display_name() for e in (found or schedule.events))
            what = "matches several events" if found else "matches no event"
            raise UsageError(f"--name={name!r} {what}: {names}")
        if len(schedule.events) == 1:
            return schedule.events[0]
        if not stdin_is_tty():
            raise UsageError("pass --name=<event> (schedule:list shows the names)")
        choices = [e.display_name() for e in schedule.events]
        picked = self.choice("Which event?", choices)
        return schedule.events[choices.index(str(picked))]
