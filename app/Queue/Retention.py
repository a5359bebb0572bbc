"""Apply config/queue.py `retention` to every kind of record the queue keeps (queue:prune).

Failed jobs, finished and cancelled batches, metrics rows, audit entries and the dashboard's
completed-job records are deleted once older than their setting (workers also trim completed
records sooner, after QUEUE_COMPLETED_TRIM_MINUTES, while they run); job statuses and results are cache entries that expire after
`status_ttl` / `result_ttl` (Redis drops them itself; the cache table's expired rows are
deleted here). A setting of 0 keeps that kind forever.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping

from sqlalchemy import delete

from app.Queue.Support.time import now
from app.Queue.errors import ConfigurationError
from app.Bus.BatchRecorder import batch_recorder
from app.Jobs.MetricsStore import MetricsStore
from app.Audit.AuditTrail import make_store
from app.Horizon.CompletedStoreFactory import completed_store

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager

KINDS = ("failed_jobs", "finished_batches", "cancelled_batches", "metrics", "audit", "statuses", "completed_jobs")


def retention_settings(manager: QueueManager) -> dict[str, float]:
    """The retention hours per kind, checked: a negative or non-number setting is a configuration error."""
    raw: Mapping[str, Any] = manager.config.get("retention") or {}
    out: dict[str, float] = {}
    for kind in KINDS:
        value = raw.get(kind, 0)
        if not isinstance(value, (int, float)) or value < 0:
            raise ConfigurationError(f"config/queue.py retention[{kind!r}] must be hours >= 0, got {value!r}")
        out[kind] = float(value)
    return out


def prune_all(manager: QueueManager) -> dict[str, int]:
    """Delete what outlived its retention; returns how many records of each kind went."""
    hours = retention_settings(manager)
    t = now()
    steps: dict[str, Callable[[float], int]] = {
        "failed_jobs": lambda h: int(manager.failed.flush(older_than_hours=h)),
        "finished_batches": lambda h: _batches(manager).prune(h, None, None),
        "cancelled_batches": lambda h: _batches(manager).prune(None, None, h),
        "metrics": lambda h: int(_metrics(manager).prune(t - h * 3600)),
        "audit": lambda h: _audit(manager).prune(t - h * 3600),
        "statuses": lambda h: _expired_cache_rows(manager),
        "completed_jobs": lambda h: int(_completed(manager).prune(t - h * 3600)),
    }
    return {kind: (steps[kind](hours[kind]) if hours[kind] > 0 else 0) for kind in KINDS}


def _batches(manager: QueueManager) -> Any:
    return batch_recorder(manager).repository


def _metrics(manager: QueueManager) -> Any:
    return MetricsStore(manager.engine())


def _completed(manager: QueueManager) -> Any:
    return completed_store(manager)


def _audit(manager: QueueManager) -> Any:
    return make_store(manager)


def _expired_cache_rows(manager: QueueManager) -> int:
    # lazy: SQLAlchemy only when the database cache store is pruned
    from app.Queue.Cache.DatabaseStore import DatabaseStore
    from app.Queue.Database.connection import translate_errors
    from app.Queue.Database.tables import cache

    store = manager.cache
    if not isinstance(store, DatabaseStore):
        return 0  # Redis expires them itself
    with translate_errors(str(store.engine.url)), store.engine.begin() as conn:
        return int(conn.execute(delete(cache).where(cache.c.expiration <= now())).rowcount or 0)
