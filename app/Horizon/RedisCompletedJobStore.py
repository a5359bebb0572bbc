"""Completed jobs in Redis, for installations whose cache store is Redis (a Redis worker then never writes SQL).

Two keys under the cache prefix, sharing the hash tag `{completed}` (one Cluster slot): a zset
whose members are the rows as JSON lists (CompletedJobStore.COLUMNS order) scored by
completion time, and a hash uuid -> score to find one job. A flush is two commands (ZADD and
HSET with many members each), so recording costs a worker little more than encoding the row.
Filters other than the id look at the newest SCAN_LIMIT jobs of the window.
"""
from __future__ import annotations

import json
from typing import Any, Sequence

from app.Horizon.CompletedJobStore import COLUMNS, row_item
from app.Horizon.Paging import Filters, Page, PageRequest
from app.Queue.Drivers.RedisConnection import translate_errors

SCAN_LIMIT = 10_000
PRUNE_CHUNK = 5_000
_UUID, _COMPLETED = COLUMNS.index("uuid"), COLUMNS.index("completed_at")
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class RedisCompletedJobStore:
    """The CompletedJobStore interface over a RedisStore's client."""

    def __init__(self, cache: Any) -> None:
        self.client = cache.client
        self.config = cache.config
        self.jobs_key = cache.key("horizon:{completed}")
        self.ids_key = cache.key("horizon:{completed}:ids")

    def record(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Add rows in one pipeline of two commands."""
        if not rows:
            return
        members: dict[str, float] = {}
        ids: dict[str, float] = {}
        for row in rows:
            members[_encode(row)] = row[_COMPLETED]
            ids[row[_UUID]] = row[_COMPLETED]
        with translate_errors(self.config):
            pipe = self.client.pipeline(transaction=False)
            pipe.zadd(self.jobs_key, members)
            pipe.hset(self.ids_key, mapping=ids)
            pipe.execute()

    def prune(self, before: float) -> int:
        """Delete jobs completed before `before`, in chunks."""
        removed, old = 0, [None]
        while old:
            with translate_errors(self.config):
                old = self.client.zrangebyscore(self.jobs_key, "-inf", f"({before!r}", start=0, num=PRUNE_CHUNK)
                if old:
                    pipe = self.client.pipeline(transaction=False)
                    pipe.zrem(self.jobs_key, *old)
                    pipe.hdel(self.ids_key, *[json.loads(m)[_UUID] for m in old])
                    pipe.execute()
            removed += len(old)
        return removed

    def page(self, request: PageRequest, since: float) -> Page:
        """Newest first, completed since `since`, narrowed by the request's filters."""
        f = request.filters
        with translate_errors(self.config):
            if f.id:
                found = self._find_row(f.id)
                rows = [found] if found is not None and found[_COMPLETED] >= since and _matches(found, f) else []
                return Page([row_item(r) for r in rows[request.offset:request.offset + request.per_page]],
                            request.page, request.per_page, len(rows))
            if not (f.job or f.tag or f.queue):
                total = int(self.client.zcount(self.jobs_key, since, "+inf"))
                members = self.client.zrevrangebyscore(self.jobs_key, "+inf", since, start=request.offset, num=request.per_page)
                return Page([row_item(json.loads(m)) for m in members], request.page, request.per_page, total)
            newest = self.client.zrevrangebyscore(self.jobs_key, "+inf", since, start=0, num=SCAN_LIMIT + 1)
        hits = [r for r in (json.loads(m) for m in newest[:SCAN_LIMIT]) if _matches(r, f)]
        chosen = hits[request.offset:request.offset + request.per_page]
        return Page([row_item(r) for r in chosen], request.page, request.per_page, len(hits), capped=len(newest) > SCAN_LIMIT)

    def find(self, job_uuid: str, hint: float | None = None) -> dict[str, Any] | None:
        """The completion of a job uuid, with its (redacted) data (the id hash finds it: no `hint` needed)."""
        with translate_errors(self.config):
            row = self._find_row(job_uuid)
        if row is None:
            return None
        item = row_item(row)
        item["data"] = json.loads(row[COLUMNS.index("data")])
        return item

    def count_since(self, since: float, tag: str | None = None) -> int:
        """How many jobs completed since `since` (optionally carrying `tag`, among the newest SCAN_LIMIT)."""
        if tag:
            return self.page(PageRequest(1, 1, Filters(tag=tag)), since).total
        with translate_errors(self.config):
            count = self.client.zcount(self.jobs_key, since, "+inf")
        return int(count)

    def _find_row(self, job_uuid: str) -> list[Any] | None:
        score = self.client.hget(self.ids_key, job_uuid)
        if score is None:
            return None
        for member in self.client.zrangebyscore(self.jobs_key, score, score):
            row = json.loads(member)
            if row[_UUID] == job_uuid:
                return list(row)
        return None


def _matches(row: Sequence[Any], f: Filters) -> bool:
    tags = json.loads(row[COLUMNS.index("tags")] or "[]")
    return ((not f.id or row[_UUID] == f.id) and (not f.job or row[COLUMNS.index("name")] == f.job)
            and (not f.queue or row[COLUMNS.index("queue")] == f.queue) and (not f.tag or f.tag in tags))
