"""Pending, completed and failed jobs for the dashboard: pages, one job's detail, retry and forget."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from app.Horizon.CompletedStoreFactory import completed_store
from app.Horizon.JobSummary import detail, summary
from app.Horizon.Paging import BadRequest, Filters, NotFound, Page, PageRequest, like_escape
from app.Horizon.PendingJobs import DatabasePendingJobs, RedisPendingJobs, matches
from app.Horizon.Redaction import parse_stored
from app.Horizon.settings import completed_trim_minutes
from app.Horizon.StatsRepository import StatsRepository
from app.Queue.database.connection import translate_errors
from app.Queue.database.tables import failed_jobs
from app.Queue.support.time import now
from app.Queue.FailedRetrier import retry_failed

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager

MAX_RETRY_SELECTED = 500


class JobRepository:
    """Read and act on jobs across the connections the dashboard watches."""

    def __init__(self, manager: QueueManager, workers: list[dict[str, Any]] | None = None) -> None:
        self.manager = manager
        self.workers = workers or []
        self.completed_store = completed_store(manager)

    # -- pending -----------------------------------------------------------------------------
    def _pending_sources(self) -> list[Any]:
        stats = StatsRepository(self.manager)
        sources: list[Any] = []
        targets = stats.targets(self.workers)
        for conn in stats.connections(self.workers):
            driver = self.manager.connection(conn)
            if hasattr(driver, "engine"):
                sources.append(DatabasePendingJobs(driver))
            elif hasattr(driver, "client"):
                sources.append(RedisPendingJobs(driver, sorted({q for c, q in targets if c == conn})))
        return sources

    def pending(self, request: PageRequest) -> Page:
        """Waiting jobs, across connections (the first connection's jobs first)."""
        sources = self._pending_sources()
        if len(sources) == 1:
            first: Page = sources[0].page(request)
            return first
        items: list[dict[str, Any]] = []
        total, capped = 0, False
        for source in sources:  # rare (several stores): page through each in turn
            whole = source.page(PageRequest(1, request.offset + request.per_page, request.filters)) \
                if request.offset + request.per_page <= 100 else source.page(request)
            items += whole.items
            total += whole.total
            capped = capped or whole.capped
        return Page(items[request.offset:request.offset + request.per_page], request.page, request.per_page, total, capped)

    # -- completed ---------------------------------------------------------------------------
    def completed(self, request: PageRequest) -> Page:
        """Jobs completed within the completed trim (default 60 minutes), newest first."""
        return self.completed_store.page(request, now() - completed_trim_minutes() * 60)

    # -- failed ------------------------------------------------------------------------------
    def failed(self, request: PageRequest) -> Page:
        """Permanently failed jobs, newest first."""
        provider = self.manager.failed
        if not hasattr(provider, "engine"):
            records = [r for r in provider.all() if matches(parse_stored(r.payload), request.filters)]
            chosen = records[request.offset:request.offset + request.per_page]
            return Page([self._failed_summary(r) for r in chosen], request.page, request.per_page, len(records))
        where = self._failed_where(request.filters)
        query = (select(failed_jobs.c.id, failed_jobs.c.uuid, failed_jobs.c.connection, failed_jobs.c.queue,
                        failed_jobs.c.payload, failed_jobs.c.failed_at, func.substr(failed_jobs.c.exception, 1, 300).label("exception"))
                 .where(*where).order_by(failed_jobs.c.id.desc()).limit(request.per_page).offset(request.offset))
        count = select(func.count()).select_from(failed_jobs).where(*where)
        with translate_errors(str(provider.engine.url)), provider.engine.connect() as conn:
            rows = conn.execute(query).all()
            total = int(conn.execute(count).scalar_one())
        return Page([self._failed_summary(r) for r in rows], request.page, request.per_page, total)

    @staticmethod
    def _failed_where(filters: Filters) -> list[Any]:
        import json

        c = failed_jobs.c
        where: list[Any] = []
        if filters.id:
            where.append(c.uuid == filters.id)
        if filters.queue:
            where.append(c.queue == filters.queue)
        if filters.job:
            where.append(c.payload.like('%"displayName":"' + like_escape(filters.job) + '"%', escape="\\"))
        if filters.tag:
            needle = like_escape(json.dumps(filters.tag, ensure_ascii=False))
            where.append(c.payload.like('%"tags":[%' + needle + '%],"createdAt"%', escape="\\"))
        return where

    @staticmethod
    def _failed_summary(record: Any) -> dict[str, Any]:
        first_line = (str(record.exception).strip().splitlines() or [""])[0][:300]
        return summary(record.payload, id=str(record.uuid), status="failed", connection=str(record.connection),
                       queue=str(record.queue), failed_at=float(record.failed_at), exception=first_line)

    def failed_count_since(self, since: float, tag: str | None = None) -> int:
        """Failed jobs since `since`, optionally carrying `tag` (monitoring)."""
        if not tag:
            return StatsRepository(self.manager).failed_since(since)
        return self.failed(PageRequest(1, 1, Filters(tag=tag))).total

    # -- one job -------------------------------------------------------------------------------
    def find(self, job_uuid: str) -> dict[str, Any]:
        """A job's detail wherever it is now: failed, completed or waiting (404 when nowhere)."""
        if not job_uuid or len(job_uuid) > 64:
            raise BadRequest("a job id is a uuid (at most 64 characters)")
        record = self.manager.failed.find(job_uuid) if not job_uuid.isdigit() else None
        if record is not None:
            return detail(record.payload, id=str(record.uuid), status="failed", connection=str(record.connection),
                          queue=str(record.queue), failed_at=float(record.failed_at), exception=str(record.exception))
        status = self.manager.statuses.get(job_uuid)
        completed = self.completed_store.find(job_uuid, hint=status.updated_at if status else None)
        if completed is not None:
            return completed
        for source in self._pending_sources():
            found: dict[str, Any] | None = source.find(job_uuid)
            if found is not None:
                return found
        if status is not None:  # between two stores (its completed row is written within a second), or trimmed
            return {"id": job_uuid, "name": "Job", "status": str(status.state), "attempts": status.attempts, "queue": "",
                    "connection": "", "tags": [], "created_at": None, "data": None, "updated_at": status.updated_at,
                    "note": "Only the job's status is known: its details are being recorded or were trimmed."}
        raise NotFound(f"no job with id {job_uuid}")

    def retry(self, idents: list[str]) -> dict[str, Any]:
        """Push failed jobs back onto their queues; unknown ids are reported, not fatal (one id unknown -> 404)."""
        if not idents:
            raise BadRequest("no failed job ids given")
        if len(idents) > MAX_RETRY_SELECTED:
            raise BadRequest(f"at most {MAX_RETRY_SELECTED} jobs can be retried at once")
        missing: list[str] = []
        done = retry_failed(self.manager, [i for i in idents if not i.isdigit()], missing.append)
        missing += [i for i in idents if i.isdigit()]
        if missing and len(idents) == 1:
            raise NotFound(f"no failed job with id {idents[0]}")
        return {"retried": done, "missing": missing}

    def forget(self, job_uuid: str) -> None:
        """Delete a failed job record (404 when unknown)."""
        if job_uuid.isdigit() or not self.manager.failed.forget(job_uuid):
            raise NotFound(f"no failed job with id {job_uuid}")
