"""queue:clear: delete every pending job of a queue."""
from __future__ import annotations

from typing import Any

from cleo.helpers import argument, option

from app.Audit.AuditTrail import audit
from app.Console.Command import Command, UsageError, stdin_is_tty
from app.Console.Support.untrusted import plain
from app.Jobs.UniqueLock import release_for_queue
from app.Jobs.JobState import JobState
from app.Queue.Payload import peek_uuid
from app.Queue.QueueManager import QueueManager, manager


class QueueClearCommand(Command):
    name = "queue:clear"
    description = "Delete all jobs of a queue (asks first unless --force)"
    arguments = [argument("connection", "The connection (default: QUEUE_CONNECTION)", optional=True)]
    options = [
        option("queue", None, "The queue to clear (comma list allowed)", flag=False),
        option("force", None, "Do not ask for confirmation"),
        option("tenant", None, "Only delete this tenant's waiting jobs (app/Tenancy)", flag=False),
    ]

    def run_command(self) -> int:
        qm = manager()
        connection = self.argument("connection") or qm.default_connection
        config = qm.connection_config(connection)
        queues = self.list_option("queue") or [str(config.get("queue", "default"))]
        tenant = self.option("tenant")
        if tenant:
            # lazy: SQLAlchemy (tenant queries read the tables) only when the command runs; artisan list builds every command
            from app.Tenancy.TenantJobs import require_known

            require_known(qm, str(tenant), [connection])
        if not self.option("force"):
            if not stdin_is_tty():
                raise UsageError("refusing to clear without confirmation; pass --force")
            if not self.confirm(f"Delete every job of [{', '.join(queues)}] on [{connection}]?", False):
                self.line("Cancelled.")
                return 1
        driver = qm.connection(connection)
        total = 0
        with self.progress(len(queues)) as advance:
            for name in queues:
                if tenant:
                    # lazy: SQLAlchemy (tenant queries read the tables) only when the command runs; artisan list builds every command
                    from app.Tenancy.TenantJobs import erase_jobs

                    cleared = erase_jobs(qm, connection, str(tenant), [name])
                    total += cleared
                    audit(qm, "cleared", None, str(cleared), queue=name, connection=connection, tenant=str(tenant))
                    advance(1)
                    continue
                cleared = clear_and_cancel(qm, driver, name)
                total += cleared
                audit(qm, "cleared", None, str(cleared), queue=name, connection=connection)
                release_for_queue(qm, connection, name)  # the cleared jobs no longer hold their unique locks
                advance(1)
        whose = f" of tenant [{plain(str(tenant), one_line=True)}]" if tenant else ""
        shown, where = plain(", ".join(queues), one_line=True), plain(connection, one_line=True)
        self.line(f"<info>Cleared {total} job(s){whose} from [{shown}] on [{where}].</info>")
        return 0


def clear_and_cancel(qm: QueueManager, driver: Any, queue: str) -> int:
    """Delete every job of `queue`; each one removed reads `cancelled` in Job.status."""
    clear_payloads = getattr(driver, "clear_payloads", None)
    if clear_payloads is None:  # a driver that cannot list what it removed: count only
        return int(driver.clear(queue))
    payloads = clear_payloads(queue)
    uuids = [u for u in (peek_uuid(p) for p in payloads) if u]
    qm.statuses.mark_many(uuids, JobState.CANCELLED)
    return len(payloads)
