"""Job states and the status record `Job.status(job_id)` returns."""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class JobState(StrEnum):
    """Where a job is in its life (Laravel 12 names)."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    RETRYING = "retrying"


@dataclass(frozen=True, slots=True)
class JobStatus:
    """A job's last known state, attempts and progress (kept QUEUE_STATUS_TTL seconds)."""

    job_id: str
    state: JobState
    attempts: int = 0
    progress: float = 0.0
    updated_at: float = 0.0
    error: str | None = None
    result: Any = None  # handle()'s return value, for a completed job with `store_result = True`

    @property
    def finished(self) -> bool:
        """True once the job completed, failed or was cancelled."""
        return self.state in (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED)

    def to_dict(self) -> dict[str, Any]:
        return {"state": str(self.state), "attempts": self.attempts, "progress": self.progress,
                "updated_at": self.updated_at, "error": self.error}

    @classmethod
    def from_dict(cls, job_id: str, data: dict[str, Any]) -> JobStatus:
        return cls(job_id, JobState(data["state"]), int(data.get("attempts", 0)), float(data.get("progress", 0.0)),
                   float(data.get("updated_at", 0.0)), data.get("error"))
