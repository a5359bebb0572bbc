"""queue:prune-failed: delete failed jobs older than --hours (default 24)."""
from __future__ import annotations

from cleo.helpers import option

from app.Console.Command import Command
from app.Console.Support.pruning import count_failed, flush_failed
from app.Queue.QueueManager import manager


class QueuePruneFailedCommand(Command):
    name = "queue:prune-failed"
    description = "Delete failed jobs older than --hours (default 24; 0 prunes all)"
    options = [option("hours", None, "Age in hours", flag=False, default="24")]

    def run_command(self) -> int:
        hours = self.float_option("hours", 24, minimum=0)
        qm = manager()
        with self.progress(count_failed(qm, hours)) as advance:
            count = flush_failed(qm, hours, advance)
        self.line(f"<info>{count} failed job(s) older than {hours:g} hours pruned.</info>")
        return 0
