"""Job states kept in the cache store for `Job.status(job_id)`."""
from __future__ import annotations

from typing import Any

from app.Jobs.JobState import JobState, JobStatus
from app.Queue.contracts import CacheStore
from app.Queue.support.time import now


class StatusRepository:
    """Read and write `status:<uuid>` records (one small JSON value, kept `ttl` seconds)."""

    def __init__(self, store: CacheStore, ttl: float = 86400, enabled: bool = True) -> None:
        self.store = store
        self.ttl = ttl
        self.enabled = enabled

    @staticmethod
    def key(job_id: str) -> str:
        return f"status:{job_id}"

    def mark(self, job_id: str, state: JobState, attempts: int = 0, progress: float | None = None, error: str | None = None) -> None:
        """Record a state change; progress is kept unless given (completed means 100)."""
        if not self.enabled:
            return
        if progress is None:
            progress = 100.0 if state is JobState.COMPLETED else self._progress(job_id, state)
        record = JobStatus(job_id, state, attempts, progress, now(), error)
        self.store.put(self.key(job_id), record.to_dict(), self.ttl)

    def _progress(self, job_id: str, state: JobState) -> float:
        if state is JobState.PENDING:
            return 0.0
        current = self.get(job_id)
        return current.progress if current else 0.0

    def update(self, job_id: str, **changes: Any) -> None:
        """Change fields of an existing record (progress from inside a running job)."""
        current = self.get(job_id)
        data = current.to_dict() if current else {"state": str(JobState.PROCESSING), "attempts": 0}
        data.update(changes, updated_at=now())
        self.store.put(self.key(job_id), data, self.ttl)

    def get(self, job_id: str) -> JobStatus | None:
        data = self.store.get(self.key(job_id))
        return JobStatus.from_dict(job_id, data) if data else None
