"""Batches for the dashboard: a page of the newest, one batch's detail, retry its failed jobs, cancel it."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from app.Horizon.Paging import BadRequest, NotFound, Page, PageRequest
from app.Bus.BatchRepository import BatchRecord, DatabaseBatchRepository
from app.Queue.Database.connection import translate_errors
from app.Queue.Database.tables import job_batches
from app.Queue.FailedRetrier import retry_failed

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager


def batch_view(b: BatchRecord) -> dict[str, Any]:
    """Counts, progress and state of a batch."""
    processed = b.total_jobs - b.pending_jobs
    state = "cancelled" if b.cancelled_at else ("finished" if b.finished_at else "running")
    return {
        "id": b.id, "name": b.name, "total_jobs": b.total_jobs, "pending_jobs": b.pending_jobs,
        "processed_jobs": processed, "failed_jobs": b.failed_jobs, "failed_job_ids": list(b.failed_job_ids),
        "progress": round(100.0 * processed / b.total_jobs, 1) if b.total_jobs else 100.0,
        "created_at": b.created_at, "cancelled_at": b.cancelled_at, "finished_at": b.finished_at, "state": state,
    }


class BatchesRepository:
    """Read and act on job_batches."""

    def __init__(self, manager: QueueManager) -> None:
        self.manager = manager
        self.repository = DatabaseBatchRepository(manager.engine())

    def page(self, request: PageRequest) -> Page:
        """Newest batches first (name filter through `job`)."""
        where = [job_batches.c.name == request.filters.job] if request.filters.job else []
        query = (select(job_batches).where(*where).order_by(job_batches.c.created_at.desc(), job_batches.c.id)
                 .limit(request.per_page).offset(request.offset))
        count = select(func.count()).select_from(job_batches).where(*where)
        engine = self.repository.engine
        with translate_errors(str(engine.url)), engine.connect() as conn:
            rows = conn.execute(query).all()
            total = int(conn.execute(count).scalar_one())
        items = []
        for r in rows:
            view = batch_view(DatabaseBatchRepository._record(r))
            view["failed_job_ids"] = view["failed_job_ids"][:5]
            items.append(view)
        return Page(items, request.page, request.per_page, total)

    def find(self, batch_id: str) -> dict[str, Any]:
        """One batch (404 when unknown)."""
        if not batch_id or len(batch_id) > 64:
            raise BadRequest("a batch id is a uuid (at most 64 characters)")
        record = self.repository.find(batch_id)
        if record is None:
            raise NotFound(f"no batch with id {batch_id}")
        return batch_view(record)

    def retry(self, batch_id: str) -> dict[str, Any]:
        """Push the batch's failed jobs back (lifting the cancellation the failures caused)."""
        batch = self.find(batch_id)
        if not batch["failed_job_ids"]:
            return {"retried": 0, "missing": []}
        self.repository.reopen(batch_id)
        missing: list[str] = []
        done = retry_failed(self.manager, batch["failed_job_ids"], missing.append)
        return {"retried": done, "missing": missing}

    def cancel(self, batch_id: str) -> dict[str, Any]:
        """Cancel the batch: its remaining BatchableJobs skip their work."""
        self.find(batch_id)
        self.repository.cancel(batch_id)
        return self.find(batch_id)
