"""Completed jobs in the `completed_jobs` table: batched inserts from workers, paginated reads for the dashboard."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Sequence

from sqlalchemy import bindparam, delete, func, literal, select
from sqlalchemy.engine import Engine

from app.Horizon.Paging import Filters, Page, PageRequest, like_escape
from app.Horizon.tables import completed_jobs
from app.Queue.database.connection import Prepared, translate_errors

if TYPE_CHECKING:
    from app.Horizon.RedisCompletedJobStore import RedisCompletedJobStore
    from app.Queue.QueueManager import QueueManager

COLUMNS = ("uuid", "connection", "queue", "name", "tags", "data", "attempts", "runtime", "created_at", "completed_at")


class CompletedJobStore:
    """Write and read completed job rows over SQLAlchemy Core (any dialect)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._url = str(engine.url)
        self._insert: Prepared | None = None

    def record(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert rows (tuples in COLUMNS order) in one transaction: one DBAPI executemany of a statement
        compiled once, a third of Core's per-row cost (this runs in every worker)."""
        if not rows:
            return
        with translate_errors(self._url), self.engine.begin() as conn:
            if self._insert is None:
                stmt = completed_jobs.insert().values({c: bindparam(c) for c in COLUMNS})
                self._insert = Prepared(stmt, conn.dialect)
            order = self._insert.order
            if order is None:  # named parameters (PyMySQL, psycopg)
                args: list[Any] = [dict(zip(COLUMNS, r)) for r in rows]
            elif order == COLUMNS:
                args = list(rows)
            else:
                where = [COLUMNS.index(name) for name in order]
                args = [tuple(r[i] for i in where) for r in rows]
            conn.exec_driver_sql(self._insert.sql, args)

    def prune(self, before: float) -> int:
        """Delete jobs completed before `before` (unix seconds)."""
        with translate_errors(self._url), self.engine.begin() as conn:
            return int(conn.execute(delete(completed_jobs).where(completed_jobs.c.completed_at < before)).rowcount or 0)

    def page(self, request: PageRequest, since: float) -> Page:
        """Newest first, completed since `since`, narrowed by the request's filters."""
        where = [completed_jobs.c.completed_at >= since, *self._filters(request.filters)]
        columns = [completed_jobs.c[c] if c != "data" else literal("").label("data") for c in COLUMNS]
        query = select(*columns).where(*where).order_by(completed_jobs.c.id.desc()).limit(request.per_page).offset(request.offset)
        count = select(func.count()).select_from(completed_jobs).where(*where)
        with translate_errors(self._url), self.engine.connect() as conn:
            rows = conn.execute(query).all()
            total = int(conn.execute(count).scalar_one())
        return Page([self._item(r) for r in rows], request.page, request.per_page, total)

    def find(self, job_uuid: str) -> dict[str, Any] | None:
        """The newest completion of a job uuid, with its (redacted) data."""
        query = select(completed_jobs).where(completed_jobs.c.uuid == job_uuid).order_by(completed_jobs.c.id.desc()).limit(1)
        with translate_errors(self._url), self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        item = self._item(row)
        item["data"] = json.loads(row.data)
        return item

    def count_since(self, since: float, tag: str | None = None) -> int:
        """How many jobs completed since `since` (optionally carrying `tag`)."""
        query = select(func.count()).select_from(completed_jobs).where(completed_jobs.c.completed_at >= since)
        if tag:
            query = query.where(*self._filters(Filters(tag=tag)))
        with translate_errors(self._url), self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    @staticmethod
    def _filters(filters: Filters) -> list[Any]:
        c = completed_jobs.c
        where: list[Any] = []
        if filters.id:
            where.append(c.uuid == filters.id)
        if filters.job:
            where.append(c.name == filters.job)
        if filters.queue:
            where.append(c.queue == filters.queue)
        if filters.tag:
            needle = like_escape(json.dumps(filters.tag, ensure_ascii=False))
            where.append(c.tags.like(f"%{needle}%", escape="\\"))
        return where

    @staticmethod
    def _item(row: Any) -> dict[str, Any]:
        return row_item([getattr(row, c) for c in COLUMNS])


def row_item(row: Sequence[Any]) -> dict[str, Any]:
    """The list fields of a completed job from its row values in COLUMNS order."""
    uuid, connection, queue, name, tags, _data, attempts, runtime, created_at, completed_at = row
    return {
        "id": uuid, "name": name, "queue": queue, "connection": connection, "tags": json.loads(tags or "[]"),
        "attempts": int(attempts), "runtime": float(runtime), "created_at": float(created_at),
        "completed_at": float(completed_at), "status": "completed",
    }


def completed_store(manager: QueueManager) -> CompletedJobStore | RedisCompletedJobStore:
    """Where completed jobs live: Redis when the cache store is Redis (so Redis workers write no SQL), else SQL."""
    if manager.config.get("cache_store") == "redis":
        from app.Horizon.RedisCompletedJobStore import RedisCompletedJobStore

        return RedisCompletedJobStore(manager.cache)
    return CompletedJobStore(manager.engine())
