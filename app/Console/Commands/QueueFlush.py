"""queue:flush: delete all failed jobs (or those older than --hours)."""
from __future__ import annotations

from cleo.helpers import option

from app.Console.Command import Command
from app.Console.Support.pruning import count_failed, flush_failed
from app.Queue.QueueManager import manager


class QueueFlushCommand(Command):
    name = "queue:flush"
    description = "Delete all failed jobs, or only those older than --hours"
    options = [option("hours", None, "Only failed jobs older than this many hours", flag=False)]

    def run_command(self) -> int:
        hours = self.float_option("hours", -1, minimum=0) if self.option("hours") not in (None, "") else None
        qm = manager()
        with self.progress(count_failed(qm, hours)) as advance:
            count = flush_failed(qm, hours, advance)
        scope = f" older than {hours:g} hours" if hours is not None else ""
        self.line(f"<info>Deleted {count} failed job(s){scope}.</info>")
        return 0
