"""queue:forget-tenant: erase one tenant's waiting jobs, failed jobs, audit entries and metrics rows (right to erasure)."""
from __future__ import annotations

from cleo.helpers import argument, option

from app.Console.Command import Command, UsageError, stdin_is_tty
from app.Queue.QueueManager import manager
from app.Tenancy.TenantJobs import forget_tenant, require_known


class QueueForgetTenantCommand(Command):
    name = "queue:forget-tenant"
    description = "Erase a tenant's jobs, failed jobs, audit entries and metrics, and say what was removed"
    arguments = [argument("tenant", "The tenant id")]
    options = [
        option("connection", None, "Connections whose jobs to erase (comma list; default: QUEUE_CONNECTION)", flag=False),
        option("force", None, "Do not ask for confirmation"),
    ]

    def run_command(self) -> int:
        qm = manager()
        tenant = str(self.argument("tenant"))
        connections = self.list_option("connection") or [qm.default_connection]
        for conn in connections:
            qm.connection_config(conn)
        require_known(qm, tenant, connections)
        if not self.option("force"):
            if not stdin_is_tty():
                raise UsageError("refusing to erase a tenant without confirmation; pass --force")
            if not self.confirm(f"Erase every job, failed job and audit entry of tenant [{tenant}]?", False):
                self.line("Cancelled.")
                return 1
        report = forget_tenant(qm, tenant, connections)
        for conn, n in report.by_connection.items():
            self.line(f"jobs on [{conn}]: {n} removed")
        self.line(f"failed jobs: {report.failed} removed")
        self.line(f"audit entries: {report.audit} removed")
        self.line(f"metrics rows: {report.metrics} removed")
        self.line(f"<info>Erased tenant [{tenant}]: {report.total} record(s).</info>")
        return 0
