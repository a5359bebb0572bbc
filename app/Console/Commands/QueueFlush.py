"""queue:flush: delete all failed jobs (or those older than --hours, or one tenant's)."""
from __future__ import annotations

from cleo.helpers import option

from app.Console.Command import Command
from app.Audit.AuditTrail import audit
from app.Console.Support.pruning import count_failed, flush_failed
from app.Queue.QueueManager import manager
from app.Queue.Support.time import now
from app.Tenancy.FairQueues import payload_tenant
from app.Tenancy.TenantJobs import require_known


class QueueFlushCommand(Command):
    name = "queue:flush"
    description = "Delete all failed jobs, or only those older than --hours, or one tenant's"
    options = [
        option("hours", None, "Only failed jobs older than this many hours", flag=False),
        option("tenant", None, "Only this tenant's failed jobs (app/Tenancy)", flag=False),
    ]

    def run_command(self) -> int:
        hours = self.float_option("hours", -1, minimum=0) if self.option("hours") not in (None, "") else None
        qm = manager()
        tenant = self.option("tenant")
        if tenant is not None:
            count = self._flush_tenant(str(tenant), hours)
        else:
            with self.progress(count_failed(qm, hours)) as advance:
                count = flush_failed(qm, hours, advance)
        scope = f" older than {hours:g} hours" if hours is not None else ""
        scope += f" of tenant [{tenant}]" if tenant is not None else ""
        audit(qm, "forgotten", None, f"{count} failed jobs (queue:flush{scope})",
              tenant=None if tenant is None else str(tenant))
        self.line(f"<info>Deleted {count} failed job(s){scope}.</info>")
        return 0

    def _flush_tenant(self, tenant: str, hours: float | None) -> int:
        """Forget the tenant's failed jobs (older than `hours` when given), one by one: tenants are found in payloads."""
        qm = manager()
        require_known(qm, tenant, [qm.default_connection])
        cutoff = now() - hours * 3600 if hours is not None else None
        doomed = [r.uuid for r in qm.failed.all()
                  if payload_tenant(r.payload) == tenant and (cutoff is None or r.failed_at <= cutoff)]
        return sum(bool(qm.failed.forget(u)) for u in doomed)
