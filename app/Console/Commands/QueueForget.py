"""queue:forget: delete a failed job record."""
from __future__ import annotations

from cleo.helpers import argument

from app.Audit.AuditTrail import audit, envelope_of
from app.Console.Command import Command, UsageError
from app.Jobs.UniqueLock import release_for_payload
from app.Queue.QueueManager import manager


class QueueForgetCommand(Command):
    name = "queue:forget"
    description = "Delete a failed job by uuid (or row id)"
    arguments = [argument("id", "The failed job's uuid or id")]

    def run_command(self) -> int:
        ident = str(self.argument("id"))
        qm = manager()
        record = qm.failed.find(ident)
        if record is None or not qm.failed.forget(ident):
            raise UsageError(f"No failed job matches the ID [{ident}].")
        release_for_payload(qm, record.payload, record.connection, record.queue)
        audit(qm, "forgotten", envelope_of(record.payload), queue=record.queue, connection=record.connection)
        self.line("<info>Failed job deleted successfully.</info>")
        return 0
