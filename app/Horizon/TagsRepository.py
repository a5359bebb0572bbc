"""Monitored tags (Horizon's Monitoring page): the list lives in the cache store, the counts in the tag index.

As Horizon's per-tag lists: workers index every failed job's tags, and a completed job's tags
while they are monitored (app/Horizon/TagIndexFactory.py), so a tag's counts are index range
counts, never payload scans. A tag's completed count starts when monitoring starts; stopping
monitoring drops its completed entries.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.Horizon.Paging import MAX_FILTER_CHARS, BadRequest, NotFound
from app.Horizon.TagIndexFactory import completed_tag_index

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager

MONITORED_KEY = "horizon:monitored-tags"
MAX_MONITORED = 100
COUNT_CAP = 1_000  # each monitored tag's counts read at most this many index entries ("1,000+"): up to 100 tags


class TagsRepository:
    """Add, remove and list monitored tags."""

    def __init__(self, manager: QueueManager) -> None:
        self.manager = manager
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
        completed_tag_index(self.manager).forget_tag(tag, "completed")
        return tags

    def summary(self, jobs: Any, since: float) -> list[dict[str, Any]]:
        """Per monitored tag: jobs completed since `since` (and since monitoring began) and failed jobs, each counted
        up to COUNT_CAP (`capped` names the counts that stopped there: "1,000+")."""
        index, out = completed_tag_index(self.manager), []
        for tag in self.monitored():
            counts = {"completed": index.count(tag, "completed", since, cap=COUNT_CAP), "failed": jobs.failed_count_since(0, tag, COUNT_CAP)}
            capped = sorted(k for k, n in counts.items() if n > COUNT_CAP)
            out.append({"tag": tag, **{k: min(n, COUNT_CAP) for k, n in counts.items()}, **({"capped": capped} if capped else {})})
        return out
