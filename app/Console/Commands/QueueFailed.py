"""queue:failed: list failed jobs as a table."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from cleo.helpers import option

from app.Console.Command import Command
from app.Queue.QueueManager import manager


def job_class(payload: str) -> str:
    """Name the job class of a stored payload, or '?' when it cannot be read."""
    try:
        data = json.loads(payload)
        return str(data.get("displayName") or data.get("job") or "?")[:100]
    except Exception:  # anything a planted row holds (deep nesting: RecursionError) reads as unknown
        return "?"


class QueueFailedCommand(Command):
    name = "queue:failed"
    description = "List failed jobs"
    options = [option("queue", None, "Only this queue", flag=False)]

    def run_command(self) -> int:
        records = manager().failed.all(self.option("queue") or None)
        if not records:
            self.line("<info>No failed jobs.</info>")
            return 0
        table = self.table()
        table.set_headers(["ID", "UUID", "Connection", "Queue", "Job", "Failed at", "Exception"])
        table.set_rows([
            [str(r.id), r.uuid, r.connection, r.queue, job_class(r.payload),
             datetime.fromtimestamp(r.failed_at, timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
             (r.exception.splitlines() or [""])[0][:100]]
            for r in records
        ])
        table.render()
        return 0
