"""Completed jobs in Redis, for installations whose cache store is Redis (a Redis worker then never writes SQL).

One zset under the cache prefix (hash tag `{completed}`): members are the rows as JSON lists
(CompletedRows.COLUMNS order) scored by completion time. A flush is one ZADD, so recording
costs a worker little more than encoding the row. A job is found by id near the time its
status record gives (a score range), else among the newest SCAN_LIMIT jobs, as are filters.
"""
from __future__ import annotations

import json
from typing import Any, Sequence

from app.Horizon.CompletedRows import COLUMNS, HINT_SLACK, row_item
from app.Horizon.Paging import Filters, Page, PageRequest
from app.Queue.Redis.errors import translate_errors
from app.Queue.Support.compact_json import compact_encoder

SCAN_LIMIT = 10_000
CHUNK = 1_000
PRUNE_CHUNK = 5_000
_UUID, _COMPLETED = COLUMNS.index("uuid"), COLUMNS.index("completed_at")


# A row's JSON, with the C encoder made once: json's encode builds it anew per call, which was half
# of the ~3 us a worker spent per completed job turning its row into the zset member. A row is flat.
row_json = compact_encoder()
_INF = float("inf")


def member_and_score(row: Sequence[Any]) -> tuple[str, Any]:
    """The zset member of a row (`row_json(row)`) and its score, completed_at, spelt once for both:
    spelling a float (repr's shortest round trip) is a third of what the member costs to build."""
    completed = row[_COMPLETED]
    if _COMPLETED == len(row) - 1 and type(completed) is float and -_INF < completed < _INF:
        score = repr(completed)  # what the JSON encoder writes for a finite float
        return f"{row_json(row[:-1])[:-1]},{score}]", score
    return row_json(row), completed


class RedisCompletedJobStore:
    """The CompletedJobStore interface over a RedisStore's client."""

    def __init__(self, cache: Any) -> None:
        self.client = cache.client
        self.config = cache.config
        self.jobs_key = cache.key("horizon:{completed}")

    def record(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Add rows with one ZADD."""
        if not rows:
            return
        with translate_errors(self.config):
            self.client.zadd(self.jobs_key, dict(map(member_and_score, rows)))

    def prune(self, before: float) -> int:
        """Delete jobs completed before `before`, in chunks."""
        removed, old = 0, [None]
        while old:
            with translate_errors(self.config):
                old = self.client.zrangebyscore(self.jobs_key, "-inf", f"({before!r}", start=0, num=PRUNE_CHUNK)
                if old:
                    self.client.zrem(self.jobs_key, *old)
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
        hits: list[Any] = []
        enough, capped = request.offset + 2 * request.per_page, False
        for start in range(0, SCAN_LIMIT, CHUNK):  # newest first until the page and the next are found (`capped`)
            with translate_errors(self.config):
                chunk = self.client.zrevrangebyscore(self.jobs_key, "+inf", since, start=start, num=CHUNK)
            hits += [r for r in (json.loads(m) for m in chunk) if _matches(r, f)]
            if len(chunk) < CHUNK:  # read to the end: the count is exact
                break
            if len(hits) > enough or start + CHUNK >= SCAN_LIMIT:
                capped = True
                break
        chosen = hits[request.offset:request.offset + request.per_page]
        return Page([row_item(r) for r in chosen], request.page, request.per_page, len(hits), capped=capped)

    def find(self, job_uuid: str, hint: float | None = None) -> dict[str, Any] | None:
        """The completion of a job uuid with its (redacted) data: near `hint` (when it completed), else among the newest."""
        with translate_errors(self.config):
            row = self._find_row(job_uuid, hint)
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

    def _find_row(self, job_uuid: str, hint: float | None = None) -> list[Any] | None:
        if hint is not None:
            members = self.client.zrangebyscore(self.jobs_key, hint - HINT_SLACK, hint + HINT_SLACK)
        else:
            members = self.client.zrevrange(self.jobs_key, 0, SCAN_LIMIT - 1)
        needle = json.dumps(job_uuid)
        for member in members:
            if needle in member:  # cheap test before decoding
                row = json.loads(member)
                if row[_UUID] == job_uuid:
                    return list(row)
        return None


def _matches(row: Sequence[Any], f: Filters) -> bool:
    tags = json.loads(row[COLUMNS.index("tags")] or "[]")
    return ((not f.id or row[_UUID] == f.id) and (not f.job or row[COLUMNS.index("name")] == f.job)
            and (not f.queue or row[COLUMNS.index("queue")] == f.queue) and (not f.tag or f.tag in tags))
