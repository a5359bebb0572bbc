"""schedule:list: each event, its expression, time zone, next due time and last result."""
from __future__ import annotations

from datetime import datetime, timezone

from app.Console.Command import Command
from app.Console.Support.scheduling import escape, scheduler_for
from app.Scheduling.Event import Event
from app.Scheduling.Frequencies import load_zone
from app.Scheduling.LastResults import LastResult


class ScheduleListCommand(Command):
    name = "schedule:list"
    description = "List the scheduled events with their expression, time zone, next due time and last result"

    def run_command(self) -> int:
        scheduler = scheduler_for(self)
        events = scheduler.schedule.events
        if not events:
            self.line("<comment>No scheduled events: define them in routes/console.py, def schedule(schedule).</comment>")
            return 0
        now = scheduler.clock.now()
        results = scheduler.results.many(events)
        table = self.table()
        table.set_headers(["Event", "Expression", "Timezone", "Next due", "Last result"])
        table.set_rows([[escape(e.display_name()) + _about(e), e.expression, e.tz_name, _next(e, now),
                         _last(results.get(e.mutex_id()))] for e in events])
        table.render()
        return 0


def _about(event: Event) -> str:
    extras = [event.about] if event.about else []
    extras += [flag for flag, on in (("one server", event.one_server), ("no overlap", bool(event.overlap_minutes)),
                                     ("background", event.background)) if on]
    if event.only_in:
        extras.append("env " + ",".join(event.only_in))
    return escape(f" ({'; '.join(extras)})") if extras else ""


def _next(event: Event, now: datetime) -> str:
    due = event.next_due(now)
    if due is None:
        return "never"
    local = due.astimezone(load_zone(event.tz_name))
    return local.strftime("%Y-%m-%d %H:%M %Z")


def _last(result: LastResult | None) -> str:
    if result is None:
        return "-"
    when = datetime.fromtimestamp(result.due, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = f"{result.status} {when}"
    if result.status != "running":
        text += f" {result.duration:.2f}s"
    if result.message:
        text += f": {result.message[:120]}"
    text = escape(text)
    return f"<error>{text}</error>" if result.status == "failed" else text
