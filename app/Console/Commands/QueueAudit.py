"""queue:audit: show the audit trail (lifecycle events and operator actions), oldest first."""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone

from cleo.helpers import option
from cleo.io.outputs.output import Type

from app.Audit.AuditTrail import make_store
from app.Console.Command import Command, UsageError
from app.Console.Support.untrusted import plain
from app.Queue.QueueManager import manager
from app.Queue.Support.time import now

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str) -> float:
    """`30m`, `2h`, `7d` (ago) or an ISO 8601 time -> unix seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text)
    if match:
        return now() - float(match.group(1)) * _UNITS[match.group(2)]
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"--since must look like 30m, 2h, 7d or 2026-12-01T10:00, got {text!r}") from None
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()


class QueueAuditCommand(Command):
    name = "queue:audit"
    description = "Show the audit trail: who dispatched, ran, released, failed, retried, forgot or cleared what"
    options = [
        option("job", None, "Only entries of this job id", flag=False),
        option("tenant", None, "Only entries of this tenant", flag=False),
        option("since", None, "Only entries since 30m, 2h, 7d ago, or an ISO time", flag=False),
        option("limit", None, "At most this many (the newest); 0 for all", flag=False, default="100"),
        option("json", None, "Print a JSON array instead of a table"),
    ]

    def run_command(self) -> int:
        since = parse_since(str(self.option("since"))) if self.option("since") else None
        limit = self.int_option("limit", 100)
        entries = make_store(manager()).query(self.option("job") or None, self.option("tenant") or None, since, limit)
        if self.option("json"):
            self.io.write_line(json.dumps([e.as_dict() for e in entries], indent=2, ensure_ascii=False), type=Type.RAW)
            return 0
        if not entries:
            self.line("<info>No audit entries.</info>")
            return 0
        table = self.table()
        table.set_headers(["Time (UTC)", "Event", "Job id", "Job", "Queue", "Tenant", "Attempt", "Actor", "Host", "Detail"])
        table.set_rows([[
            datetime.fromtimestamp(e.at, timezone.utc).strftime("%Y-%m-%d %H:%M:%S"), plain(e.event), plain(e.job_id or ""),
            plain(e.job_class or ""), plain(e.queue or ""), plain(e.tenant or ""),
            "" if e.attempt is None else str(e.attempt), plain(e.actor), plain(e.host), plain(e.detail or ""),
        ] for e in entries])
        table.render()
        return 0
