"""queue:prune-failed: delete failed jobs older than --hours (default 24)."""
from __future__ import annotations

from cleo.helpers import option

from app.Console.Command import Command
from app.Queue.QueueManager import manager


class QueuePruneFailedCommand(Command):
    name = "queue:prune-failed"
    description = "Delete failed jobs older than --hours (default 24; 0 prunes all)"
    options = [option("hours", None, "Age in hours", flag=False, default="24")]

    def run_command(self) -> int:
        hours = self.float_option("hours", 24, minimum=0)
        count = manager().failed.flush(hours)
        self.line(f"<info>{count} failed job(s) older than {hours:g} hours pruned.</info>")
        return 0
