"""JobBatch: a batch's counters and state, read from job_batches (seed path app.Models.JobBatch)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from app.Audit.AuditTrail import audit
from app.Queue.QueueManager import manager

if TYPE_CHECKING:
    from app.Bus.BatchRepository import BatchRecord, DatabaseBatchRepository
    from app.Bus.PendingBatch import BatchMember
    from app.Jobs.Job import Job


def _repository() -> DatabaseBatchRepository:
    return manager().batches.repository


class JobBatch:
    """A snapshot of one batch; `fresh()` reads it again.

    `pending_jobs` counts jobs that have not succeeded (a failed job stays pending until a
    retry succeeds, as in Laravel); `processed_jobs` = total - pending, the jobs that succeeded.
    """

    def __init__(self, record: BatchRecord) -> None:
        self.record = record
        self.id = record.id
        self.name = record.name
        self.total_jobs = record.total_jobs
        self.pending_jobs = record.pending_jobs
        self.failed_jobs = record.failed_jobs
        self.failed_job_ids = list(record.failed_job_ids)
        self.options = dict(record.options)
        self.created_at = record.created_at
        self.cancelled_at = record.cancelled_at
        self.finished_at = record.finished_at

    @classmethod
    def find(cls, batch_id: str) -> JobBatch | None:
        """Load a batch by id (None when unknown)."""
        record = _repository().find(batch_id)
        return cls(record) if record else None

    @classmethod
    def recent(cls, limit: int = 10) -> list[JobBatch]:
        """The newest batches first (for queue:stats and dashboards)."""
        return [cls(r) for r in _repository().recent(limit)]

    def fresh(self) -> JobBatch:
        """Read this batch again."""
        return JobBatch.find(self.id) or self

    @property
    def processed_jobs(self) -> int:
        return self.total_jobs - self.pending_jobs

    def progress(self) -> float:
        """Percent of jobs that succeeded (0–100, two decimals)."""
        if self.total_jobs <= 0:
            return 100.0 if self.finished() else 0.0
        return round(self.processed_jobs * 100.0 / self.total_jobs, 2)

    def finished(self) -> bool:
        """True once no job of the batch is left to run."""
        return self.finished_at is not None

    def cancelled(self) -> bool:
        return self.cancelled_at is not None

    def has_failures(self) -> bool:
        return self.failed_jobs > 0

    def allows_failures(self) -> bool:
        return bool(self.options.get("allow_failures"))

    def cancel(self) -> None:
        """Cancel the batch: its BatchableJobs that have not started skip their work."""
        _repository().cancel(self.id)
        audit(manager(), "batch_cancelled", None, self.id, queue=self.options.get("queue"))
        self._reload()

    def add(self, jobs: Iterable[Job | BatchMember]) -> JobBatch:
        """Add jobs (or chains) to this batch and queue them."""
        items = list(jobs)
        if not items:
            return self
        manager().batches.add_members(self.id, items)
        self._reload()
        return self

    def _reload(self) -> None:
        record = _repository().find(self.id)
        if record is not None:
            self.__init__(record)  # type: ignore[misc]

    def to_dict(self) -> dict[str, Any]:
        """The batch as plain values (console, dashboard)."""
        return {"id": self.id, "name": self.name, "total_jobs": self.total_jobs, "pending_jobs": self.pending_jobs,
                "processed_jobs": self.processed_jobs, "failed_jobs": self.failed_jobs, "progress": self.progress(),
                "failed_job_ids": self.failed_job_ids, "created_at": self.created_at,
                "cancelled_at": self.cancelled_at, "finished_at": self.finished_at}

    def __repr__(self) -> str:
        return f"<JobBatch {self.id} {self.processed_jobs}/{self.total_jobs} failed={self.failed_jobs}>"
