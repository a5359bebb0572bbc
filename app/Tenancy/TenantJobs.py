"""Find, count and erase one tenant's jobs, failed jobs and audit entries (tenant-scoped commands).

On a fair queue a tenant's jobs are its own sub-queue (`{queue}@{tenant}`); elsewhere they are
found by the `tenant` member of each stored envelope. Jobs a worker holds right now are left to
finish (they are counted as reserved).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from app.Queue.contracts import QueueSizes
from app.Queue.Database.connection import translate_errors
from app.Queue.Database.tables import jobs
from app.Queue.Redis.RedisRecord import RedisRecord
from app.Queue.errors import QueueError
from app.Queue.Support.time import now
from app.Tenancy.FairQueues import SEPARATOR, FairDriver, payload_tenant, tenancy_settings
from app.Audit.AuditTrail import audit, flush, make_store
from app.Jobs.MetricsStore import MetricsStore
from app.Jobs.MetricsCollector import JobMetrics

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager


class UnknownTenantError(QueueError):
    """A --tenant that names no configured tenant and nothing stored."""


def _inner(driver: Any) -> Any:
    return driver.inner if isinstance(driver, FairDriver) else driver


def _kind(manager: QueueManager, connection: str) -> str:
    return str(manager.connection_config(connection).get("driver", connection))


def _stored_queues(driver: Any) -> list[str]:
    return list(_inner(driver).queues())


def tenant_sizes(manager: QueueManager, connection: str, queue: str, tenant: str) -> QueueSizes:
    """Pending, delayed and reserved jobs of `tenant` on `queue`."""
    driver = manager.connection(connection)
    if isinstance(driver, FairDriver) and driver.is_fair(queue):
        return driver.inner.sizes(f"{queue}{SEPARATOR}{tenant}")  # type: ignore[no-any-return]
    pending = delayed = reserved = 0
    for state, _ref in _scan(manager, connection, [queue], tenant):
        pending += state == "pending"
        delayed += state == "delayed"
        reserved += state == "reserved"
    return QueueSizes(pending, delayed, reserved)


def _scan(manager: QueueManager, connection: str, queues: list[str], tenant: str) -> list[tuple[str, Any]]:
    """(state, reference) of every job of `tenant` on `queues` (references: row ids or (queue, zset key, record))."""
    inner = _inner(manager.connection(connection))
    t = now()
    found: list[tuple[str, Any]] = []
    if _kind(manager, connection) == "database":
        query = select(jobs.c.id, jobs.c.payload, jobs.c.reserved_at, jobs.c.available_at).where(jobs.c.queue.in_(queues))
        with translate_errors(str(inner.engine.url)), inner.engine.connect() as conn:
            for row in conn.execute(query):
                if payload_tenant(row.payload) == tenant:
                    state = "reserved" if row.reserved_at is not None else ("delayed" if row.available_at > t else "pending")
                    found.append((state, row.id))
        return found
    for queue in queues:
        keys = inner.keys(queue)
        for key, state in ((keys.pending, "pending"), (keys.delayed, "delayed"), (keys.reserved, "reserved")):
            for record in inner.client.zrange(key, 0, -1):
                if payload_tenant(RedisRecord.read(record).payload) == tenant:
                    found.append((state, (key, record)))
    return found


def erase_jobs(manager: QueueManager, connection: str, tenant: str, queues: list[str] | None = None) -> int:
    """Delete `tenant`'s waiting jobs (pending and delayed) on `queues` (default: all); returns how many."""
    driver = manager.connection(connection)
    stored = _stored_queues(driver)
    wanted = set(queues) if queues else {q.split(SEPARATOR, 1)[0] for q in stored}
    removed = 0
    if isinstance(driver, FairDriver):
        for q in stored:
            base, sep, owner = q.partition(SEPARATOR)
            if sep and owner == tenant and base in wanted:
                mine = [ref for state, ref in _scan(manager, connection, [q], tenant) if state != "reserved"]
                _erase_refs(manager, connection, mine)
                removed += len(mine)
    plain = [q for q in stored if SEPARATOR not in q and q in wanted]
    refs = [ref for state, ref in _scan(manager, connection, plain, tenant) if state != "reserved"] if plain else []
    _erase_refs(manager, connection, refs)
    return removed + len(refs)


def _erase_refs(manager: QueueManager, connection: str, refs: list[Any]) -> None:
    if not refs:
        return
    inner = _inner(manager.connection(connection))
    if _kind(manager, connection) == "database":
        with translate_errors(str(inner.engine.url)), inner.engine.begin() as conn:
            for i in range(0, len(refs), 500):
                conn.execute(delete(jobs).where(jobs.c.id.in_(refs[i:i + 500]), jobs.c.reserved_at.is_(None)))
        return
    pipe = inner.client.pipeline(transaction=False)
    for key, record in refs:
        pipe.zrem(key, record)
    pipe.execute()


def failed_of(manager: QueueManager, tenant: str) -> list[str]:
    """Uuids of `tenant`'s failed jobs."""
    return [r.uuid for r in manager.failed.all() if payload_tenant(r.payload) == tenant]


@dataclass
class ErasureReport:
    """What queue:forget-tenant removed."""

    jobs: int = 0
    failed: int = 0
    audit: int = 0
    metrics: int = 0
    by_connection: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.jobs + self.failed + self.audit + self.metrics


def forget_tenant(manager: QueueManager, tenant: str, connections: list[str]) -> ErasureReport:
    """Erase `tenant`: waiting jobs on `connections`, failed jobs, audit entries, metrics rows (right to erasure)."""
    report = ErasureReport()
    for conn in connections:
        n = erase_jobs(manager, conn, tenant)
        report.by_connection[conn] = n
        report.jobs += n
    for uuid in failed_of(manager, tenant):
        report.failed += bool(manager.failed.forget(uuid))
    flush(manager)
    report.audit = make_store(manager).forget_tenant(tenant)
    report.metrics = MetricsStore(manager.engine()).forget_tenant(tenant)
    # The erasure itself is recorded, without the tenant (its references are what was erased).
    audit(manager, "tenant_forgotten", None, f"{report.jobs} jobs, {report.failed} failed, {report.audit} audit, {report.metrics} metrics")
    return report


def require_known(manager: QueueManager, tenant: str, connections: list[str]) -> None:
    """Refuse a tenant that is neither configured (QUEUE_TENANTS) nor named by anything stored."""
    if not tenant.strip():
        raise UnknownTenantError("--tenant must name a tenant")
    configured = [str(t) for t in tenancy_settings(manager)["tenants"]]
    if tenant in configured:
        return
    if failed_of(manager, tenant):
        return
    for conn in connections:
        driver = manager.connection(conn)
        stored = _stored_queues(driver)
        if any(q.partition(SEPARATOR)[2] == tenant for q in stored):
            return
        plain = [q for q in stored if SEPARATOR not in q]
        if plain and _scan(manager, conn, plain, tenant):
            return
    if make_store(manager).query(tenant=tenant, limit=1):
        return
    hint = f"configured: {', '.join(configured)}" if configured else "set QUEUE_TENANTS to list them"
    raise UnknownTenantError(f"unknown tenant {tenant!r}: no job, failed job or audit entry names it ({hint})")


def require_known_in_metrics(manager: QueueManager, tenant: str) -> None:
    """Refuse a --tenant that no metrics row names and that `require_known` does not know either."""
    if tenant.strip() and any(m.count for m in JobMetrics.all_job_metrics(None, tenant)):
        return
    require_known(manager, tenant, [manager.default_connection])


def tenant_stats(manager: QueueManager, connection: str | None, queues: list[str], tenant: str) -> list[dict[str, Any]]:
    """queue:stats --tenant: one tenant's pending, delayed, reserved and failed jobs per queue."""
    conn = connection or manager.default_connection
    require_known(manager, tenant, [conn])
    names = queues or sorted({q.split(SEPARATOR, 1)[0] for q in _stored_queues(manager.connection(conn))}) or ["default"]
    failed = [r for r in manager.failed.all() if payload_tenant(r.payload) == tenant]
    rows = []
    for queue in names:
        s = tenant_sizes(manager, conn, queue, tenant)
        rows.append({"connection": conn, "queue": queue, "tenant": tenant, "pending": s.pending, "delayed": s.delayed,
                     "reserved": s.reserved, "failed": sum(1 for r in failed if r.queue == queue)})
    return rows
