"""The application's own artisan commands (register) and its schedule (schedule).

Commands: subclass app.Console.Command.Command, implement run_command(), add it in
register(). Example: `python artisan inspire` prints a line.

Schedule: `schedule(schedule)` registers what runs when; one cron line runs it:
`* * * * * cd /app && python artisan schedule:run` (or `python artisan schedule:work`
under systemd). `python artisan schedule:list` shows each event and its next due time.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from cleo.application import Application

from app.Console.Command import Command

if TYPE_CHECKING:
    from app.Scheduling.Schedule import Schedule


class InspireCommand(Command):
    name = "inspire"
    description = "Print an encouraging line (an example of an application command)"

    def run_command(self) -> int:
        self.line("Nothing is lost when every job is acked.")
        return 0


def register(app: Application) -> None:
    """Add application commands to artisan."""
    app.add(InspireCommand())


def schedule(schedule: Schedule) -> None:
    """Define the periodic jobs and commands (times are UTC unless SCHEDULE_TIMEZONE or .timezone() says otherwise)."""
    # Housekeeping every installation needs; on_one_server() makes each run happen once
    # however many servers run the scheduler.
    # queue:prune applies config/queue.py `retention` (failed jobs, batches, statuses, metrics, audit).
    schedule.command("queue:prune").daily_at("03:20").on_one_server() \
        .name("prune-queue-records").description("apply config/queue.py retention to every kind of record")
    if schedule.has_command("horizon:snapshot"):  # registered once the supervisor (app/Horizon) is installed
        schedule.command("horizon:snapshot").every_five_minutes().on_one_server().name("horizon-snapshot")

    # Examples:
    # from app.Jobs.Examples.GenerateReportJob import GenerateReportJob
    # schedule.job(GenerateReportJob("daily"), queue="reports").daily_at("6:30").timezone("Europe/Berlin").on_one_server()
    # schedule.command("queue:monitor default:1000").every_five_minutes().between("8:00", "18:00").weekdays()
    # schedule.call(cleanup_tmp_files).hourly().without_overlapping(expires_after=30)
    # schedule.command("reports:build").weekly_on("monday", "8:00").run_in_background().environments("production")
    # schedule.call(send_digest).cron("0 9 * * 1-5").skip(lambda: is_holiday()).name("digest")
