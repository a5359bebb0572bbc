"""queue:failed: list failed jobs, newest first, as a table or as JSON."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from cleo.helpers import option
from cleo.io.outputs.output import Type

from app.Console.Command import Command
from app.Console.Support.untrusted import plain
from app.Queue.contracts import FailedJobRecord
from app.Queue.QueueManager import manager
from app.Queue.Support.failed_filter import job_class

DEFAULT_LIMIT = 50

__all__ = ["QueueFailedCommand", "job_class"]


def failed_at_text(timestamp: float) -> str:
    """Format a failed_at timestamp as UTC `YYYY-MM-DD HH:MM:SS`."""
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def as_json(record: FailedJobRecord) -> dict[str, Any]:
    """One failed job as `--json` prints it."""
    return {
        "id": record.id,
        "uuid": record.uuid,
        "connection": record.connection,
        "queue": record.queue,
        "job": job_class(record.payload),
        "failed_at": datetime.fromtimestamp(record.failed_at, timezone.utc).isoformat(),
        "exception": (record.exception.splitlines() or [""])[0],
    }


class QueueFailedCommand(Command):
    name = "queue:failed"
    description = "List failed jobs, newest first (queue:failed:show <id> shows one in full)"
    options = [
        option("queue", None, "Only this queue", flag=False),
        option("class", None, "Only this job class (SendEmailJob, or its module path)", flag=False),
        option("limit", None, "Show at most this many (0: all)", flag=False, default=str(DEFAULT_LIMIT)),
        option("json", None, "Print a JSON array (for scripts) instead of a table"),
        option("tenant", None, "Only this tenant's failed jobs (app/Tenancy)", flag=False),
    ]

    def run_command(self) -> int:
        limit = self.int_option("limit", DEFAULT_LIMIT, minimum=0)
        queue, wanted = self.option("queue") or None, self.option("class") or None
        tenant = self.option("tenant")
        if tenant:
            # lazy: SQLAlchemy (tenant queries read the tables) only when the command runs; artisan list builds every command
            from app.Tenancy.FairQueues import payload_tenant
            from app.Tenancy.TenantJobs import require_known

            require_known(manager(), str(tenant), [manager().default_connection])
            records = [r for r in manager().failed.recent(None, queue, wanted) if payload_tenant(r.payload) == tenant]
            records = records[:limit] if limit else records
        else:
            records = manager().failed.recent(limit or None, queue, wanted)
        if self.option("json"):
            self.io.write_line(json.dumps([as_json(r) for r in records], indent=2, ensure_ascii=False), type=Type.RAW)
            return 0
        if not records:
            self.line("<info>No failed jobs.</info>")
            return 0
        table = self.table()
        table.set_headers(["ID", "UUID", "Connection", "Queue", "Job", "Failed at", "Exception"])
        table.set_rows([
            [str(r.id), plain(r.uuid), plain(r.connection), plain(r.queue), plain(job_class(r.payload)),
             failed_at_text(r.failed_at), plain((r.exception.splitlines() or [""])[0][:100])]
            for r in records
        ])
        table.render()
        if limit and len(records) == limit and not wanted:
            total = manager().failed.count(queue)
            if total > limit:
                self.line(f"<comment>Showing the newest {limit} of {total} failed jobs; --limit=0 shows all.</comment>")
        return 0
