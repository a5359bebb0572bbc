"""Completed jobs in the `completed_jobs` table: batched inserts from workers, paginated reads for the dashboard."""
from __future__ import annotations

import json
from typing import Any, Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine

from app.Horizon.Paging import Filters, Page, PageRequest, like_escape
from app.Horizon.tables import completed_jobs
from app.Queue.database.connection import translate_errors


class CompletedJobStore:
    """Write and read completed job rows over SQLAlchemy Core (any dialect)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._url = str(engine.url)

    def record(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert rows in one transaction (executemany)."""
        if rows:
            with translate_errors(self._url), self.engine.begin() as conn:
                conn.execute(completed_jobs.insert(), list(rows))

    def prune(self, before: float) -> int:
        """Delete jobs completed before `before` (unix seconds)."""
        with translate_errors(self._url), self.engine.begin() as conn:
            return int(conn.execute(delete(completed_jobs).where(completed_jobs.c.completed_at < before)).rowcount or 0)

    def page(self, request: PageRequest, since: float) -> Page:
        """Newest first, completed since `since`, narrowed by the request's filters."""
        where = [completed_jobs.c.completed_at >= since, *self._filters(request.filters)]
        columns = [c for c in completed_jobs.c if c.name != "data"]
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
        return {
            "id": row.uuid, "name": row.name, "queue": row.queue, "connection": row.connection,
            "tags": json.loads(row.tags or "[]"), "attempts": int(row.attempts), "runtime": float(row.runtime),
            "created_at": float(row.created_at), "completed_at": float(row.completed_at), "status": "completed",
        }
