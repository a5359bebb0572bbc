"""queue:stats: pending, delayed, reserved, failed and throughput per queue, plus unfinished batches."""
from __future__ import annotations

import json
from typing import Any

from cleo.helpers import argument, option
from sqlalchemy import select

from app.Console.Command import Command
from app.Console.Support.targets import format_seconds, known_queues, parse_target
from app.Jobs.MetricsCollector import JobMetrics, QueueMetrics
from app.Queue.database.connection import translate_errors
from app.Queue.database.tables import job_batches
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


def unfinished_batches(limit: int = 20) -> list[dict[str, Any]]:
    """Batches that have not finished, newest first, with their progress in percent."""
    engine = manager().engine()
    query = (select(job_batches).where(job_batches.c.finished_at.is_(None))
             .order_by(job_batches.c.created_at.desc()).limit(limit))
    with translate_errors(str(engine.url)), engine.connect() as conn:
        rows = list(conn.execute(query))
    return [{"id": r.id, "name": r.name, "total": r.total_jobs, "pending": r.pending_jobs, "failed": r.failed_jobs,
             "progress": round(100 * (r.total_jobs - r.pending_jobs) / r.total_jobs) if r.total_jobs else 0,
             "cancelled": r.cancelled_at is not None} for r in rows]


class QueueStatsCommand(Command):
    name = "queue:stats"
    description = "Show pending, delayed, reserved and failed jobs and throughput per queue"
    arguments = [argument("connection", "The connection (default: QUEUE_CONNECTION)", optional=True)]
    options = [
        option("queue", None, "Only these queues (comma list; CONNECTION:QUEUE allowed)", flag=False),
        option("json", None, "Print JSON instead of a table"),
    ]

    def run_command(self) -> int:
        rows = queue_rows(self.argument("connection"), self.list_option("queue"))
        batches = unfinished_batches()
        if self.option("json"):
            data = {"queues": [{**m.to_dict(), "paused": p} for m, p in rows], "batches": batches}
            self.line(json.dumps(data, indent=2))
            return 0
        table = self.table()
        table.set_headers(HEADERS)
        table.set_rows([[f"{m.connection}:{m.queue}", str(m.pending), str(m.delayed), str(m.reserved), str(m.failed),
                         f"{m.throughput_per_minute:.1f}", format_seconds(m.oldest_wait), "paused" if p else "active"]
                        for m, p in rows])
        table.render()
        if batches:
            self.line("")
            batch_table = self.table()
            batch_table.set_headers(["Batch", "Name", "Progress", "Total", "Pending", "Failed", "State"])
            batch_table.set_rows([[b["id"], b["name"], f"{b['progress']}%", str(b["total"]), str(b["pending"]),
                                   str(b["failed"]), "cancelled" if b["cancelled"] else "running"] for b in batches])
            batch_table.render()
        return 0
