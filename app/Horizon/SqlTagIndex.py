"""The per-tag index in the `job_tags` table: a tag's counts and job ids are ranges of (tag, kind, at).

Failed entries are read joined to failed_jobs, so a record forgotten or retried by any means
(the dashboard, `queue:forget`, `queue:retry`, pruning) stops counting at once.
"""
from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import and_, delete, func, select
from sqlalchemy.engine import Engine

from app.Horizon.tables import job_tags
from app.Queue.Database.connection import translate_errors
from app.Queue.Database.tables import failed_jobs

FAILED, COMPLETED = "failed", "completed"


class SqlTagIndex:
    """Add, count, list and prune tag entries over SQLAlchemy Core (any dialect)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._url = str(engine.url)

    def add(self, kind: str, entries: Sequence[tuple[str, str, float]]) -> None:
        """Index (tag, job id, at) entries; a job indexed again (failed after a retry) keeps one entry per tag."""
        if not entries:
            return
        rows = [{"tag": tag[:191], "kind": kind, "job_id": job_id[:64], "at": float(at)} for tag, job_id, at in entries]
        ids = sorted({job_id[:64] for _, job_id, _ in entries})
        with translate_errors(self._url), self.engine.begin() as conn:
            if kind == FAILED:  # completed entries are new jobs; a failed uuid can fail again after a retry
                conn.execute(delete(job_tags).where(job_tags.c.kind == kind, job_tags.c.job_id.in_(ids)))
            conn.execute(job_tags.insert(), rows)

    def _where(self, tag: str, kind: str, since: float) -> list[Any]:
        where = [job_tags.c.tag == tag, job_tags.c.kind == kind]
        if since > 0:
            where.append(job_tags.c.at >= since)
        return where

    def _source(self, kind: str) -> Any:
        """job_tags alone, or joined to the failed records still there."""
        if kind == FAILED:
            return job_tags.join(failed_jobs, and_(failed_jobs.c.uuid == job_tags.c.job_id))
        return job_tags

    def count(self, tag: str, kind: str, since: float = 0.0, cap: int | None = None) -> int:
        """Jobs of `kind` carrying `tag` (since `since`): an index range count, stopped past `cap` (then cap + 1)."""
        hits = select(job_tags.c.id).select_from(self._source(kind)).where(*self._where(tag, kind, since))
        if cap is not None:
            hits = hits.limit(cap + 1)
        query = select(func.count()).select_from(hits.subquery())
        with translate_errors(self._url), self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def ids(self, tag: str, kind: str, offset: int, limit: int, since: float = 0.0) -> list[str]:
        """Job ids carrying `tag`, newest first."""
        query = (select(job_tags.c.job_id).select_from(self._source(kind)).where(*self._where(tag, kind, since))
                 .order_by(job_tags.c.at.desc(), job_tags.c.id.desc()).offset(offset).limit(limit))
        with translate_errors(self._url), self.engine.connect() as conn:
            return [str(r[0]) for r in conn.execute(query)]

    def prune(self, kind: str, before: float) -> int:
        """Drop entries of `kind` older than `before`."""
        with translate_errors(self._url), self.engine.begin() as conn:
            done = conn.execute(delete(job_tags).where(job_tags.c.at < before, job_tags.c.kind == kind))
            return int(done.rowcount or 0)

    def forget_tag(self, tag: str, kind: str) -> int:
        """Drop a tag's entries of `kind` (a tag no longer monitored)."""
        with translate_errors(self._url), self.engine.begin() as conn:
            return int(conn.execute(delete(job_tags).where(job_tags.c.tag == tag, job_tags.c.kind == kind)).rowcount or 0)
