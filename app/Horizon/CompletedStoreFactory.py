"""Choose where completed jobs live, importing only that store: a Redis worker loads no SQLAlchemy for it."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.Horizon.CompletedJobStore import CompletedJobStore
    from app.Horizon.RedisCompletedJobStore import RedisCompletedJobStore
    from app.Queue.QueueManager import QueueManager


def completed_store(manager: QueueManager) -> CompletedJobStore | RedisCompletedJobStore:
    """Where completed jobs live: Redis when the cache store is Redis (so Redis workers write no SQL), else SQL."""
    # lazy: imported here, not at the top: each store pulls in its own client library (SQLAlchemy or redis).
    if manager.config.get("cache_store") == "redis":
        # lazy: this store's client library only
        from app.Horizon.RedisCompletedJobStore import RedisCompletedJobStore

        return RedisCompletedJobStore(manager.cache)
    # lazy: this store's client library only
    from app.Horizon.CompletedJobStore import CompletedJobStore

    return CompletedJobStore(manager.engine())
