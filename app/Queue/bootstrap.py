"""Wire the built-in features (batches, chains, unique locks, metrics, ...) into a manager.

This is the composition root: it imports every feature, and every feature imports the queue
side, so the manager loads this module only when it boots (app/Queue/QueueManager.py `_boot`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from app.Audit import AuditTrail
from app.Bus import BatchRecorder, ChainRecorder
from app.Horizon import CompletedJobRecorder, FailedTagRecorder
from app.Jobs import MetricsCollector, RateLimiter, UniqueLock
from app.Queue import AttemptHistory, JobLog, JobResults, ReplayGuard, WorkerRegistry
from app.Tenancy import TenantContext

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager

# One `register(manager)` per feature, in the order they listen; one line each keeps the wiring in one place.
REGISTRATIONS: tuple[Callable[[QueueManager], None], ...] = (
    MetricsCollector.register,
    WorkerRegistry.register,
    CompletedJobRecorder.register,
    FailedTagRecorder.register,
    BatchRecorder.register,
    ChainRecorder.register,
    RateLimiter.register,
    AttemptHistory.register,
    JobLog.register,
    JobResults.register,
    ReplayGuard.register,
    AuditTrail.register,
    TenantContext.register,
    # Last: its push guard takes the unique lock, so no later guard can refuse after it.
    UniqueLock.register,
)


def register_listeners(manager: QueueManager) -> None:
    """Call `register(manager)` of every built-in feature."""
    for register in REGISTRATIONS:
        register(manager)
