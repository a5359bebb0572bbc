"""Per-tenant rate limits and concurrency caps, checked by the worker before a job runs (a run gate).

config/queue.py `tenancy`:
    "rate_limits": {"acme": (100, 60), "*": (1000, 60)}   # at most 100 jobs of acme per 60 s
    "concurrency": {"acme": 2, "*": 10}                   # at most 2 jobs of acme running at once
A job over a limit is released until a slot frees, without using up an attempt (as
app/Jobs/RateLimiter.py does). A concurrency slot is an owned lock in the lock store, held
while the job runs and released when its attempt ends; a worker killed mid-job holds its slot
until the lock expires (the job's timeout plus `slot_grace`, 60 s).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from app.Jobs.RateLimiter import Limiter
from app.Queue.events import JobFailed, JobProcessed, JobReleased

if TYPE_CHECKING:
    from app.Jobs.Job import Job
    from app.Queue.QueueManager import QueueManager

SLOT_WAIT = 1.0  # seconds a job waits when its tenant's slots are all taken


def _for(table: Mapping[str, Any], tenant: str) -> Any:
    return table.get(tenant, table.get("*"))


class TenantGate:
    """The run gate: the tenant's rate limit, then a concurrency slot."""

    def __init__(self, manager: QueueManager, rate_limits: Mapping[str, Any], concurrency: Mapping[str, int],
                 slot_grace: float) -> None:
        self.manager = manager
        self.rate_limits = rate_limits
        self.concurrency = concurrency
        self.slot_grace = slot_grace
        self._held: dict[str, str] = {}  # job uuid -> slot key it holds

    def __call__(self, job: Job, envelope: dict[str, Any]) -> float | None:
        tenant = envelope.get("tenant")
        if tenant is None:
            return None
        tenant = str(tenant)
        limit = _for(self.rate_limits, tenant)
        if limit:
            wait = Limiter(self.manager.cache).attempt(f"ratelimit:tenant:{tenant}", int(limit[0]), float(limit[1]))
            if wait is not None:
                return wait
        cap = _for(self.concurrency, tenant)
        if cap:
            return self._take_slot(tenant, int(cap), str(envelope.get("uuid") or ""), float(job.timeout or 60))
        return None

    def _take_slot(self, tenant: str, cap: int, owner: str, timeout: float) -> float | None:
        locks = self.manager.locks
        for i in range(cap):
            key = f"tenant-slot:{tenant}:{i}"
            if locks.acquire(key, owner, timeout + self.slot_grace):
                self._held[owner] = key
                return None
        return SLOT_WAIT

    def release(self, event: Any) -> None:
        """The attempt ended (done, failed or released): free the tenant slot it held."""
        owner = str(event.envelope.get("uuid") or "")
        key = self._held.pop(owner, None)
        if key is not None:
            self.manager.locks.release(key, owner)


def register_limits(manager: QueueManager, settings: Mapping[str, Any]) -> None:
    """Add the tenant gate when config/queue.py sets tenant rate limits or concurrency caps."""
    rate_limits = dict(settings.get("rate_limits") or {})
    concurrency = {str(k): int(v) for k, v in dict(settings.get("concurrency") or {}).items()}
    if not rate_limits and not concurrency:
        return
    gate = TenantGate(manager, rate_limits, concurrency, float(settings.get("slot_grace", 60)))
    manager.run_gates.append(gate)
    for event_type in (JobProcessed, JobFailed, JobReleased):
        manager.events.listen(event_type, gate.release)
