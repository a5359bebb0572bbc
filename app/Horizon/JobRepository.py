"""Pending, completed and failed jobs for the dashboard: pages, one job's detail, retry and forget."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from app.Horizon.CompletedStoreFactory import completed_store
from app.Horizon.JobSummary import detail, summary
from app.Horizon.Paging import BadRequest, Filters, NotFound, Page, PageRequest, like_escape, tenant_needle
from app.Horizon.PendingJobs import DatabasePendingJobs, RedisPendingJobs, matches
from app.Horizon.Redaction import parse_stored
from app.Horizon.settings import completed_trim_minutes
from app.Horizon.StatsRepository import StatsRepository
from app.Horizon.TagIndexFactory import failed_tag_index
from app.Horizon.tables import job_tags
from app.Queue.Database.connection import translate_errors
from app.Queue.Database.tables import failed_jobs
from app.Queue.Support.time import now
from app.Queue.FailedRetrier import retry_failed
from app.Audit.AuditTrail import audit, envelope_of

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager

MAX_RETRY_SELECTED = 500
TAG_COUNT_CAP = 10_000  # a tag's failed jobs are counted up to this many (a tag on every job would cost a scan)


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
        if request.filters.tenant:
            raise BadRequest("completed jobs are not recorded per tenant: filter pending or failed jobs, or metrics")
        return self.completed_store.page(request, now() - completed_trim_minutes() * 60)

    # -- failed ------------------------------------------------------------------------------
    def failed(self, request: PageRequest) -> Page:
        """Permanently failed jobs, newest first (a tag's through the tag index, newest failure first)."""
        provider = self.manager.failed
        if not hasattr(provider, "engine"):
            return self._failed_off_database(request)
        where = self._failed_where(request.filters)
        source: Any = failed_jobs
        order: list[Any] = [failed_jobs.c.id.desc()]
        cap = None
        if request.filters.tag:  # through the tag index; counted up to TAG_COUNT_CAP, as the pending list is
            source = job_tags.join(failed_jobs, failed_jobs.c.uuid == job_tags.c.job_id)
            where += [job_tags.c.tag == request.filters.tag, job_tags.c.kind == "failed"]
            order = [job_tags.c.at.desc(), job_tags.c.id.desc()]
            cap = max(TAG_COUNT_CAP, request.offset + 2 * request.per_page)
        query = (select(failed_jobs.c.id, failed_jobs.c.uuid, failed_jobs.c.connection, failed_jobs.c.queue,
                        failed_jobs.c.payload, failed_jobs.c.failed_at, func.substr(failed_jobs.c.exception, 1, 300).label("exception"))
                 .select_from(source).where(*where).order_by(*order).limit(request.per_page).offset(request.offset))
        hits = select(failed_jobs.c.id).select_from(source).where(*where)
        count = select(func.count()).select_from((hits.limit(cap + 1) if cap else hits).subquery())
        with translate_errors(str(provider.engine.url)), provider.engine.connect() as conn:
            rows = conn.execute(query).all()
            total = int(conn.execute(count).scalar_one())
        capped = cap is not None and total > cap
        return Page([self._failed_summary(r) for r in rows], request.page, request.per_page, min(total, cap or total), capped)

    def _failed_off_database(self, request: PageRequest) -> Page:
        """Failed jobs in Redis: the order zset pages them, the tag index finds a tag's, other filters read them all."""
        provider, f = self.manager.failed, request.filters
        if f.tag and not (f.id or f.job or f.queue):
            index = failed_tag_index(self.manager)
            ids = index.ids(f.tag, "failed", request.offset, request.per_page)
            found = [r for r in (provider.find(i) for i in ids) if r is not None]
            total = index.count(f.tag, "failed", cap=TAG_COUNT_CAP)
            return Page([self._failed_summary(r) for r in found], request.page, request.per_page,
                        min(total, TAG_COUNT_CAP), capped=total > TAG_COUNT_CAP)
        if not (f.id or f.job or f.queue or f.tag):
            chosen = provider.recent(limit=request.offset + request.per_page)[request.offset:]
            return Page([self._failed_summary(r) for r in chosen], request.page, request.per_page, provider.count())
        records = [r for r in provider.all() if matches(parse_stored(r.payload), f)]
        chosen = records[request.offset:request.offset + request.per_page]
        return Page([self._failed_summary(r) for r in chosen], request.page, request.per_page, len(records))

    @staticmethod
    def _failed_where(filters: Filters) -> list[Any]:
        """Conditions on failed_jobs for the id, queue and class filters (the tag goes through the tag index)."""
        c = failed_jobs.c
        where: list[Any] = []
        if filters.id:
            where.append(c.uuid == filters.id)
        if filters.queue:
            where.append(c.queue == filters.queue)
        if filters.job:
            where.append(c.payload.like('%"displayName":"' + like_escape(filters.job) + '"%', escape="\\"))
        if filters.tenant:
            where.append(c.payload.like(tenant_needle(filters.tenant), escape="\\"))
        return where

    @staticmethod
    def _failed_summary(record: Any) -> dict[str, Any]:
        first_line = (str(record.exception).strip().splitlines() or [""])[0][:300]
        return summary(record.payload, id=str(record.uuid), status="failed", connection=str(record.connection),
                       queue=str(record.queue), failed_at=float(record.failed_at), exception=first_line)

    def failed_count_since(self, since: float, tag: str | None = None, cap: int = TAG_COUNT_CAP) -> int:
        """Failed jobs since `since`, optionally carrying `tag` (monitoring: counted up to `cap`, then cap + 1)."""
        if not tag:
            return StatsRepository(self.manager).failed_since(since)
        return failed_tag_index(self.manager).count(tag, "failed", since, cap=cap)

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
        """Delete a failed job record (404 when unknown); audited as `forgotten`, like queue:forget."""
        record = None if job_uuid.isdigit() else self.manager.failed.find(job_uuid)
        if record is None or not self.manager.failed.forget(job_uuid):
            raise NotFound(f"no failed job with id {job_uuid}")
        audit(self.manager, "forgotten", envelope_of(record.payload), queue=record.queue, connection=record.connection)
