"""queue:stats: pending, delayed, reserved, failed and throughput per queue, plus the newest batches."""
from __future__ import annotations

from typing import Any

from cleo.helpers import argument, option

from app.Console.Command import Command
from app.Console.Support.targets import format_seconds, known_queues, parse_target
from app.Console.Support.untrusted import plain, plain_json
from app.Bus.JobBatch import JobBatch
from app.Jobs.MetricsCollector import JobMetrics, QueueMetrics
from app.Queue.QueueManager import manager
from app.Queue.Worker import paused_key

HEADERS = ["Queue", "Pending", "Delayed", "Reserved", "Failed", "Jobs/min", "Oldest wait", "State"]


def queue_rows(connection: str | None, queues: list[str]) -> list[tuple[QueueMetrics, bool]]:
    """Metrics of the named queues (or every known queue of the connection) and whether each is paused."""
    qm = manager()
    conn = connection or qm.default_connection
    targets = [parse_target(q, qm, conn) for q in queues] if queues else [(conn, q) for q in known_queues(qm, conn)]
    rows = []
    for c, q in targets:
        rows.append((JobMetrics.get_queue_stats(q, c), qm.cache.get(paused_key(c, q)) is not None))
    return rows


def recent_batches(limit: int = 10) -> list[dict[str, Any]]:
    """The newest batches with their progress."""
    return [b.to_dict() for b in JobBatch.recent(limit)]


def batch_state(batch: dict[str, Any]) -> str:
    if batch.get("cancelled_at"):
        return "cancelled"
    return "finished" if batch.get("finished_at") else "running"


class QueueStatsCommand(Command):
    name = "queue:stats"
    description = "Show pending, delayed, reserved and failed jobs and throughput per queue"
    arguments = [argument("connection", "The connection (default: QUEUE_CONNECTION)", optional=True)]
    options = [
        option("queue", None, "Only these queues (comma list; CONNECTION:QUEUE allowed)", flag=False),
        option("json", None, "Print JSON instead of a table"),
        option("tenant", None, "Only this tenant's jobs (app/Tenancy)", flag=False),
    ]

    def run_command(self) -> int:
        if self.option("tenant"):
            return self._tenant_stats(str(self.option("tenant")))
        rows = queue_rows(self.argument("connection"), self.list_option("queue"))
        batches = recent_batches()
        if self.option("json"):
            data = {"queues": [{**m.to_dict(), "paused": p} for m, p in rows], "batches": batches}
            self.line(plain_json(data))
            return 0
        table = self.table()
        table.set_headers(HEADERS)
        table.set_rows([[plain(f"{m.connection}:{m.queue}", one_line=True), str(m.pending), str(m.delayed), str(m.reserved), str(m.failed),
                         f"{m.throughput_per_minute:.1f}", format_seconds(m.oldest_wait), "paused" if p else "active"]
                        for m, p in rows])
        table.render()
        if batches:
            self.line("")
            batch_table = self.table()
            batch_table.set_headers(["Batch", "Name", "Progress", "Total", "Pending", "Failed", "State"])
            batch_table.set_rows([[plain(b["id"], one_line=True), plain(b["name"], one_line=True), f"{b['progress']:.0f}%",
                                   str(b["total_jobs"]), str(b["pending_jobs"]), str(b["failed_jobs"]), batch_state(b)]
                                  for b in batches])
            batch_table.render()
        return 0

    def _tenant_stats(self, tenant: str) -> int:
        # lazy: SQLAlchemy (tenant queries read the tables) only with --tenant; artisan list builds every command
        from app.Tenancy.TenantJobs import tenant_stats

        rows = tenant_stats(manager(), self.argument("connection"), self.list_option("queue"), tenant)
        if self.option("json"):
            self.line(plain_json({"tenant": tenant, "queues": rows}))
            return 0
        table = self.table()
        table.set_headers(["Queue", "Tenant", "Pending", "Delayed", "Reserved", "Failed"])
        table.set_rows([[plain(f"{r['connection']}:{r['queue']}", one_line=True), plain(tenant, one_line=True),
                         str(r["pending"]), str(r["delayed"]), str(r["reserved"]), str(r["failed"])] for r in rows])
        table.render()
        return 0
