"""Jobs waiting in a queue (pending or delayed), read page by page from whichever driver holds them.

Database: rows of `jobs` not held by a worker, newest first through the primary key.
Redis: the pending zset (priority order, the order workers take them), then the delayed zset.
Filters on class, tag or id read the payload text (no index serves them); on Redis they look
at most SCAN_LIMIT jobs per queue and stop once the page and the next are found.
"""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from app.Horizon.JobSummary import detail, summary
from app.Horizon.Paging import Filters, Page, PageRequest, like_escape, tenant_needle
from app.Horizon.Redaction import parse_stored, tag_list
from app.Queue.Database.connection import translate_errors
from app.Queue.Database.tables import jobs
from app.Queue.Redis.RedisRecord import RedisRecord
from app.Queue.Support.time import now

SCAN_LIMIT = 10_000
CHUNK = 500
COUNT_CAP = 10_000  # the pending list counts at most this many rows (a million-row count costs ~100 ms)


def _payload_filters(filters: Filters) -> list[Any]:
    where: list[Any] = []
    if filters.id:
        where.append(jobs.c.payload.like('{"uuid":"' + like_escape(filters.id) + '"%', escape="\\"))
    if filters.job:
        where.append(jobs.c.payload.like('%"displayName":"' + like_escape(filters.job) + '"%', escape="\\"))
    if filters.tag:
        needle = like_escape(json.dumps(filters.tag, ensure_ascii=False))
        where.append(jobs.c.payload.like('%"tags":[%' + needle + '%],"createdAt"%', escape="\\"))
    if filters.queue:
        where.append(jobs.c.queue == filters.queue)
    if filters.tenant:
        where.append(jobs.c.payload.like(tenant_needle(filters.tenant), escape="\\"))
    return where


def matches(envelope: dict[str, Any], filters: Filters) -> bool:
    """Whether a decoded envelope passes the filters (Redis, failed jobs off the database)."""
    return ((not filters.id or envelope.get("uuid") == filters.id)
            and (not filters.job or envelope.get("displayName") == filters.job)
            and (not filters.tag or filters.tag in tag_list(envelope))
            and (not filters.queue or envelope.get("queue") == filters.queue)
            and (not filters.tenant or envelope.get("tenant") == filters.tenant))


class DatabasePendingJobs:
    """Waiting jobs of a DatabaseQueue."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver
        self.engine = driver.engine

    def page(self, request: PageRequest) -> Page:
        where = [jobs.c.reserved_at.is_(None), *_payload_filters(request.filters)]
        query = (select(jobs.c.payload, jobs.c.attempts, jobs.c.available_at, jobs.c.queue).where(*where)
                 .order_by(jobs.c.id.desc()).limit(request.per_page).offset(request.offset))
        capped_rows = select(jobs.c.id).where(*where).limit(max(COUNT_CAP, request.offset + 2 * request.per_page) + 1).subquery()
        count = select(func.count()).select_from(capped_rows)
        with translate_errors(str(self.engine.url)), self.engine.connect() as conn:
            rows = conn.execute(query).all()
            counted = int(conn.execute(count).scalar_one())
        limit = max(COUNT_CAP, request.offset + 2 * request.per_page)
        t = now()
        items = [summary(r.payload, status="delayed" if r.available_at > t else "pending", attempts=int(r.attempts),
                         available_at=float(r.available_at), connection=self.driver.connection_name) for r in rows]
        return Page(items, request.page, request.per_page, min(counted, limit), capped=counted > limit)

    def find(self, job_uuid: str) -> dict[str, Any] | None:
        query = select(jobs.c.payload, jobs.c.attempts, jobs.c.available_at, jobs.c.reserved_at).where(
            *_payload_filters(Filters(id=job_uuid))).limit(1)
        with translate_errors(str(self.engine.url)), self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        status = "reserved" if row.reserved_at is not None else ("delayed" if row.available_at > now() else "pending")
        return detail(row.payload, status=status, attempts=int(row.attempts), available_at=float(row.available_at))


class RedisPendingJobs:
    """Waiting jobs of a RedisQueue, across the queues it holds."""

    def __init__(self, driver: Any, queues: list[str]) -> None:
        self.driver = driver
        self.queues = queues

    def _sets(self, filters: Filters) -> list[tuple[str, str, str]]:
        """(queue, key, status) for every waiting set to list, in display order."""
        names = [q for q in self.queues if not filters.queue or q == filters.queue]
        out = []
        for q in names:
            keys = self.driver.keys(q)
            out += [(q, keys.pending, "pending"), (q, keys.delayed, "delayed")]
        return out

    def page(self, request: PageRequest) -> Page:
        client = self.driver.client
        sets = self._sets(request.filters)
        if request.filters.id or request.filters.job or request.filters.tag or request.filters.tenant:
            return self._filtered(request, sets)
        sizes = [int(client.zcard(key)) for _, key, _ in sets] if sets else []
        total = sum(sizes)
        items: list[dict[str, Any]] = []
        skip, want = request.offset, request.per_page
        for (queue, key, status), size in zip(sets, sizes):
            if want <= 0:
                break
            if skip >= size:
                skip -= size
                continue
            for record in client.zrange(key, skip, skip + want - 1):
                items.append(self._item(record, status))
            want -= min(size - skip, want)
            skip = 0
        return Page(items, request.page, request.per_page, total)

    def _filtered(self, request: PageRequest, sets: list[tuple[str, str, str]]) -> Page:
        """Matches in list order, read in chunks: it stops once the page and the next are found (`capped`), and
        decodes only records whose text holds the filter (a payload holds its uuid, class and tags verbatim)."""
        f, client = request.filters, self.driver.client
        needles = [n for n in (f.id and f.id, f.job and json.dumps(f.job, ensure_ascii=False),
                               f.tag and json.dumps(f.tag, ensure_ascii=False)) if n]
        enough = request.offset + 2 * request.per_page
        hits: list[dict[str, Any]] = []
        for _queue, key, status in sets:
            for start in range(0, SCAN_LIMIT, CHUNK):
                records = client.zrange(key, start, start + CHUNK - 1)
                for record in records:
                    payload = RedisRecord.read(record).payload
                    if all(n in payload for n in needles) and matches(parse_stored(payload), f):
                        hits.append(self._item(record, status))
                if len(hits) > enough:
                    return Page(hits[request.offset:request.offset + request.per_page], request.page, request.per_page,
                                len(hits), capped=True)
                if len(records) < CHUNK:
                    break
        return Page(hits[request.offset:request.offset + request.per_page], request.page, request.per_page, len(hits))

    def _item(self, record: str, status: str) -> dict[str, Any]:
        fields = RedisRecord.read(record)
        return summary(fields.payload, status=status, attempts=fields.attempts, connection=self.driver.connection_name)

    def find(self, job_uuid: str) -> dict[str, Any] | None:
        needle = '{"uuid":"' + job_uuid + '"'
        for queue in self.queues:
            keys = self.driver.keys(queue)
            for key, status in ((keys.pending, "pending"), (keys.delayed, "delayed"), (keys.reserved, "reserved")):
                for record in self.driver.client.zrange(key, 0, SCAN_LIMIT - 1):
                    fields = RedisRecord.read(record)
                    if fields.payload.startswith(needle):
                        return detail(fields.payload, status=status, attempts=fields.attempts)
        return None
