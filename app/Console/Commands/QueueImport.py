"""queue:import: restore a queue:export file into any connection, verified first, without duplicates."""
from __future__ import annotations

from cleo.helpers import argument, option

from app.Console.Command import Command, UsageError
from app.Queue.Backup.Export import import_keys
from app.Queue.Backup.Restore import restore
from app.Queue.Backup.SignedLines import read_verified
from app.Queue.QueueManager import manager


class QueueImportCommand(Command):
    name = "queue:import"
    description = "Import a queue:export file (every line verified before anything is written)"
    arguments = [argument("file", "The .jsonl file written by queue:export")]
    options = [option("connection", None, "Import into this connection (default: QUEUE_CONNECTION)", flag=False)]

    def run_command(self) -> int:
        qm = manager()
        connection = self.option("connection") or qm.default_connection
        qm.connection_config(connection)
        path = str(self.argument("file"))
        try:
            with open(path, encoding="utf-8") as handle:
                verified = read_verified(handle, import_keys(), path)
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
        report = restore(qm, verified, connection)
        self.line(f"<info>{report.summary()}</info>")
        return 0
