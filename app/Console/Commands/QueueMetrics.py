"""queue:metrics: per job class, how many finished, average and p95 run time, success rate."""
from __future__ import annotations

from cleo.helpers import option

from app.Console.Command import Command
from app.Console.Support.targets import format_seconds
from app.Console.Support.untrusted import plain, plain_json
from app.Jobs.MetricsCollector import JobMetrics, retention_hours
from app.Queue.QueueManager import manager


class QueueMetricsCommand(Command):
    name = "queue:metrics"
    description = "Show per job class: count, average and p95 run time, success rate"
    options = [
        option("job", None, "Only this job class (its class name)", flag=False),
        option("minutes", None, "Window in minutes (default: the whole retention window)", flag=False),
        option("json", None, "Print JSON instead of a table"),
        option("tenant", None, "Only this tenant's jobs (app/Tenancy)", flag=False),
    ]

    def run_command(self) -> int:
        minutes = self._parse("minutes", float, "a number of minutes", None, 0)
        name = self.option("job")
        tenant = self.option("tenant")
        if tenant is not None:
            # lazy: SQLAlchemy (tenant queries) only with --tenant; artisan list builds every command
            from app.Tenancy.TenantJobs import require_known_in_metrics

            require_known_in_metrics(manager(), str(tenant))
        rows = [JobMetrics.get_job_metrics(name, minutes, tenant)] if name else JobMetrics.all_job_metrics(minutes, tenant)
        if self.option("json"):
            self.line(plain_json([m.to_dict() for m in rows]))
            return 0
        window = f"last {minutes:g} minutes" if minutes is not None else f"last {retention_hours():g} hours"
        if tenant is not None:
            window += f", tenant {plain(str(tenant), one_line=True)}"
        if not any(m.count for m in rows):
            self.line(f"No finished jobs recorded in the {window}.")
            return 0
        table = self.table()
        table.set_headers(["Job", "Count", "Failed", "Avg", "P95", "Max", "Success"])
        table.set_rows([[plain(m.name, one_line=True), str(m.count), str(m.failed), format_seconds(m.avg_execution_time), format_seconds(m.p95),
                         format_seconds(m.max_execution_time), f"{m.success_rate * 100:.1f}%"] for m in rows])
        table.render()
        self.line(f"<comment>Window: {window}.</comment>")
        return 0
