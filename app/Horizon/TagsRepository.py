"""Monitored tags (Horizon's Monitoring page): the list lives in the cache store, the jobs in the job lists.

A tag's recent jobs are its completed jobs within the completed trim, its failed jobs those in
failed_jobs; both are found by the tag filter of the job lists, so monitoring a tag needs no
extra writes from workers.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.Horizon.Paging import MAX_FILTER_CHARS, BadRequest, NotFound

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager

MONITORED_KEY = "horizon:monitored-tags"
MAX_MONITORED = 100


class TagsRepository:
    """Add, remove and list monitored tags."""

    def __init__(self, manager: QueueManager) -> None:
        self.cache = manager.cache

    def monitored(self) -> list[str]:
        value = self.cache.get(MONITORED_KEY)
        return sorted(str(t) for t in value) if isinstance(value, list) else []

    def monitor(self, tag: str) -> list[str]:
        tag = (tag or "").strip()
        if not tag or len(tag) > MAX_FILTER_CHARS:
            raise BadRequest(f"a tag is 1 to {MAX_FILTER_CHARS} characters")
        tags = self.monitored()
        if tag not in tags:
            if len(tags) >= MAX_MONITORED:
                raise BadRequest(f"at most {MAX_MONITORED} tags can be monitored")
            tags.append(tag)
            self.cache.put(MONITORED_KEY, sorted(tags))
        return sorted(tags)

    def stop(self, tag: str) -> list[str]:
        tags = self.monitored()
        if tag not in tags:
            raise NotFound(f"tag {tag!r} is not monitored")
        tags.remove(tag)
        self.cache.put(MONITORED_KEY, tags)
        return tags

    def summary(self, jobs: Any, since: float) -> list[dict[str, Any]]:
        """Per monitored tag: completed jobs since `since` and failed jobs."""
        return [{"tag": t, "completed": jobs.completed_store.count_since(since, t), "failed": jobs.failed_count_since(0, t)}
                for t in self.monitored()]
