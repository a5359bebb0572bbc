"""Completed jobs in the `completed_jobs` table, one row per worker flush, read back page by page.

A page walks the flushes newest first using only their counts and decodes just the flushes
that hold the page's jobs. Filters (class, tag, queue) decode flushes until the page and the
next are found, looking at SCAN_LIMIT jobs at most (`capped`: there may be more). A job is found by its id through a hint of
when it completed (its status record's time), else among the newest SCAN_LIMIT jobs.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from app.Horizon.CompletedRows import _COMPLETED, _DATA, _UUID, HINT_SLACK, matches, row_item
from app.Horizon.Paging import Filters, Page, PageRequest
from app.Horizon.tables import completed_jobs
from app.Queue.Database.connection import translate_errors

if TYPE_CHECKING:
    pass

SCAN_LIMIT = 10_000
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class CompletedJobStore:
    """Write and read completed jobs over SQLAlchemy Core (any dialect)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._url = str(engine.url)

    def record(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Store one flush of rows (tuples in COLUMNS order) as one row."""
        if not rows:
            return
        times = [r[_COMPLETED] for r in rows]
        values = {"first_at": min(times), "last_at": max(times), "count": len(rows), "jobs": _encode(rows)}
        with translate_errors(self._url), self.engine.begin() as conn:
            conn.execute(completed_jobs.insert().values(**values))

    def prune(self, before: float) -> int:
        """Delete flushes whose every job completed before `before`."""
        with translate_errors(self._url), self.engine.begin() as conn:
            return int(conn.execute(delete(completed_jobs).where(completed_jobs.c.last_at < before)).rowcount or 0)

    # -- reading -------------------------------------------------------------------------------
    def _flushes(self, since: float) -> list[Any]:
        """(id, count, first_at) of the flushes with jobs completed since `since`, newest first."""
        query = (select(completed_jobs.c.id, completed_jobs.c.count, completed_jobs.c.first_at)
                 .where(completed_jobs.c.last_at >= since).order_by(completed_jobs.c.id.desc()))
        with translate_errors(self._url), self.engine.connect() as conn:
            return list(conn.execute(query))

    def _decode(self, ids: Sequence[Any]) -> dict[Any, list[list[Any]]]:
        """The rows of some flushes, each newest first."""
        if not ids:
            return {}
        query = select(completed_jobs.c.id, completed_jobs.c.jobs).where(completed_jobs.c.id.in_(list(ids)))
        with translate_errors(self._url), self.engine.connect() as conn:
            return {r.id: list(reversed(json.loads(r.jobs))) for r in conn.execute(query)}

    def _rows(self, flushes: Sequence[Any], since: float) -> Iterator[list[Any]]:
        """Every job of the flushes, newest first, decoding a few flushes per query."""
        for start in range(0, len(flushes), 20):
            chunk = [f.id for f in flushes[start:start + 20]]
            decoded = self._decode(chunk)
            for flush_id in chunk:
                yield from (r for r in decoded.get(flush_id, []) if r[_COMPLETED] >= since)

    def page(self, request: PageRequest, since: float) -> Page:
        """Newest first, completed since `since`, narrowed by the request's filters."""
        flushes = self._flushes(since)
        f = request.filters
        if f.id or f.job or f.tag or f.queue:  # newest first until the page and the next are found (`capped`)
            hits, seen, enough, capped = [], 0, request.offset + 2 * request.per_page, False
            for row in self._rows(flushes, since):
                seen += 1
                if matches(row, f):
                    hits.append(row)
                if seen >= SCAN_LIMIT or len(hits) > enough:
                    capped = True
                    break
            chosen = hits[request.offset:request.offset + request.per_page]
            return Page([row_item(r) for r in chosen], request.page, request.per_page, len(hits), capped=capped)
        counts = [[fl.id, fl.count if fl.first_at >= since else None] for fl in flushes]
        decoded = self._decode([fid for fid, n in counts if n is None])  # the oldest flushes straddle `since`
        for entry in counts:
            if entry[1] is None:
                entry[1] = sum(1 for r in decoded.get(entry[0], []) if r[_COMPLETED] >= since)
        total = sum(n for _, n in counts)
        wanted: list[tuple[Any, int]] = []
        skip, remaining = request.offset, request.per_page
        for flush_id, n in counts:
            if remaining <= 0:
                break
            if skip >= n:
                skip -= n
                continue
            wanted.append((flush_id, skip))
            remaining -= n - skip
            skip = 0
        decoded.update(self._decode([fid for fid, _ in wanted if fid not in decoded]))
        items: list[list[Any]] = []
        for flush_id, first in wanted:
            items.extend([r for r in decoded.get(flush_id, []) if r[_COMPLETED] >= since][first:])
        return Page([row_item(r) for r in items[:request.per_page]], request.page, request.per_page, total)

    def find(self, job_uuid: str, hint: float | None = None) -> dict[str, Any] | None:
        """A completed job with its (redacted) data: near `hint` (when it completed) if given, else among the newest."""
        if hint is not None:
            query = (select(completed_jobs.c.id).where(completed_jobs.c.last_at >= hint - HINT_SLACK,
                                                       completed_jobs.c.first_at <= hint + HINT_SLACK))
            with translate_errors(self._url), self.engine.connect() as conn:
                candidates = [r.id for r in conn.execute(query)]
            rows: Any = (r for rows in self._decode(candidates).values() for r in rows)
        else:
            rows = self._rows(self._flushes(0.0)[:SCAN_LIMIT // 100], 0.0)
        for row in rows:
            if row[_UUID] == job_uuid:
                item = row_item(row)
                item["data"] = json.loads(row[_DATA])
                return item
        return None

    def count_since(self, since: float, tag: str | None = None) -> int:
        """How many jobs completed since `since` (optionally carrying `tag`, among the newest SCAN_LIMIT)."""
        return self.page(PageRequest(1, 1, Filters(tag=tag or "")), since).total
