"""queue:prune: apply config/queue.py `retention` to failed jobs, batches, statuses, metrics, audit entries and
completed-job records."""
from __future__ import annotations

from app.Console.Command import Command
from app.Queue.QueueManager import manager
from app.Queue.Retention import prune_all, retention_settings


class QueuePruneCommand(Command):
    name = "queue:prune"
    description = "Delete what outlived config/queue.py retention (failed jobs, batches, statuses, metrics, audit, completed)"

    def run_command(self) -> int:
        qm = manager()
        hours = retention_settings(qm)
        removed = prune_all(qm)
        for kind, count in removed.items():
            keep = "kept forever" if hours[kind] == 0 else f"older than {hours[kind]:g} h"
            self.line(f"{kind}: {count} removed ({keep})")
        self.line(f"<info>Pruned {sum(removed.values())} record(s).</info>")
        return 0
