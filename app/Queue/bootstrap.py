"""Wire the built-in listeners (batches, chains, unique locks, metrics) into a manager."""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager

# Each module exposes `register(manager)`; one line per feature keeps the wiring in one place.
LISTENER_MODULES: tuple[str, ...] = (
    "app.Jobs.MetricsCollector",
    "app.Queue.WorkerRegistry",
    "app.Horizon.CompletedJobRecorder",
    "app.Horizon.FailedTagRecorder",
    "app.Jobs.BatchRecorder",
    "app.Jobs.ChainRecorder",
    "app.Jobs.RateLimiter",
    "app.Queue.AttemptHistory",
    "app.Queue.JobLog",
    "app.Queue.JobResults",
    "app.Queue.ReplayGuard",
    "app.Audit.AuditTrail",
    "app.Tenancy.TenantContext",
    # Last: its push guard takes the unique lock, so no later guard can refuse after it.
    "app.Jobs.UniqueLock",
)


def register_listeners(manager: QueueManager) -> None:
    """Call `register(manager)` of every built-in feature module."""
    for module_name in LISTENER_MODULES:
        importlib.import_module(module_name).register(manager)
