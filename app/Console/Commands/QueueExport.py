"""queue:export: write pending, delayed (and failed, batches) jobs as signed JSON lines."""
from __future__ import annotations

import sys

from cleo.helpers import argument, option

from app.Console.Command import Command
from app.Queue.Backup.Export import export
from app.Queue.QueueManager import manager


class QueueExportCommand(Command):
    name = "queue:export"
    description = "Export jobs (and failed jobs, batches) as signed JSON lines: queue:export > file.jsonl"
    arguments = [argument("connection", "The connection (default: QUEUE_CONNECTION)", optional=True)]
    options = [
        option("queue", None, "Only these queues (comma list)", flag=False),
        option("tenant", None, "Only jobs of this tenant", flag=False),
        option("include-failed", None, "Also export failed jobs"),
        option("include-batches", None, "Also export batches with their progress"),
        option("output", "o", "Write to this file instead of standard output", flag=False),
    ]

    def run_command(self) -> int:
        qm = manager()
        connection = self.argument("connection") or qm.default_connection
        qm.connection_config(connection)
        path = self.option("output")
        out = open(path, "w", encoding="utf-8") if path else sys.stdout  # raw stream: cleo would read tags in payloads
        try:
            counts = export(qm, connection, out, self.list_option("queue"), self.option("tenant") or None,
                            bool(self.option("include-failed")), bool(self.option("include-batches")))
        finally:
            if path:
                out.close()
            else:
                out.flush()
        self.line_error(f"<info>Exported {counts['job']} job(s), {counts['failed']} failed job(s), "
                        f"{counts['batch']} batch(es) from [{connection}].</info>")
        return 0
