"""Choose where each part of the per-tag index lives: beside the records it indexes.

Completed entries sit with the completed jobs (Redis when the cache store is Redis, else the
`job_tags` table); failed entries sit with the failed records (the failed store's Redis, else
`job_tags` in the failed store's database).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.Horizon.RedisTagIndex import RedisTagIndex
    from app.Horizon.SqlTagIndex import SqlTagIndex
    from app.Queue.QueueManager import QueueManager



def completed_tag_index(manager: QueueManager) -> SqlTagIndex | RedisTagIndex:
    """The index of monitored tags' completed jobs."""
    if manager.config.get("cache_store") == "redis":
        from app.Horizon.RedisTagIndex import RedisTagIndex  # lazy: redis-py only where the index is in Redis

        cache = manager.cache
        return RedisTagIndex(cache.client, cache.config, cache.key("horizon:{completed}:tags"))  # type: ignore[attr-defined]
    from app.Horizon.SqlTagIndex import SqlTagIndex  # lazy: SQLAlchemy only where the index is in SQL

    return SqlTagIndex(manager.engine())


def failed_tag_index(manager: QueueManager) -> SqlTagIndex | RedisTagIndex:
    """The index of failed jobs' tags."""
    provider: Any = manager.failed  # the SQL or the Redis provider (contracts.FailedJobProvider)
    engine = getattr(provider, "engine", None)
    if engine is None:
        from app.Horizon.RedisTagIndex import RedisTagIndex  # lazy: redis-py only where the index is in Redis

        records = str(provider.records_key)
        return RedisTagIndex(provider.client, provider.config, records + ":tags", records)
    from app.Horizon.SqlTagIndex import SqlTagIndex  # lazy: SQLAlchemy only where the index is in SQL

    return SqlTagIndex(engine)
