"""queue:prune-batches: delete old batch records from job_batches."""
from __future__ import annotations

from cleo.helpers import option

from app.Console.Command import Command
from app.Queue.QueueManager import manager
from app.Bus.BatchRecorder import batch_recorder


class QueuePruneBatchesCommand(Command):
    name = "queue:prune-batches"
    description = "Delete finished batches older than --hours (default 24; 0 prunes all)"
    options = [
        option("hours", None, "Age in hours of finished batches to delete", flag=False, default="24"),
        option("unfinished", None, "Also delete unfinished batches created more than this many hours ago", flag=False),
        option("cancelled", None, "Also delete cancelled batches created more than this many hours ago", flag=False),
    ]

    def run_command(self) -> int:
        hours = self.float_option("hours", 24, minimum=0)
        unfinished = self._parse("unfinished", float, "a number of hours", None, 0)
        cancelled = self._parse("cancelled", float, "a number of hours", None, 0)
        count = batch_recorder(manager()).repository.prune(hours, unfinished, cancelled)
        self.line(f"<info>{count} batch record(s) pruned.</info>")
        return 0
