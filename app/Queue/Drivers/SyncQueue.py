"""The `sync` connection: run each job in the dispatching process at once (tests, local scripts)."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Sequence

from app.Jobs.JobState import JobState
from app.Queue.contracts import PushItem, QueueSizes
from app.Queue.events import JobFailed, JobProcessed, JobProcessing
from app.Queue.JobRunner import JobRunner

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager


class SyncQueue:
    """A driver that stores nothing: push runs the job; its exception reaches the caller after failed()."""

    runs_inline = True

    def __init__(self, connection_name: str, manager: QueueManager) -> None:
        self.connection_name = connection_name
        self.manager = manager
        self.runner = JobRunner()

    def push(self, payload: str, queue: str, delay: float = 0, priority: int = 0) -> None:
        envelope = self.manager.codec.parse(payload)
        job = self.manager.codec.restore(envelope)
        job.attempts = 1
        started = time.monotonic()
        self.manager.events.dispatch(JobProcessing(job, envelope, 1))
        try:
            result = self.runner.run(job, envelope.get("timeout"))
            if job.has_failed:
                raise job._failed_with  # type: ignore[misc]
        except Exception as exc:
            self.runner.run_callback(job.failed, exc)
            self.manager.events.dispatch(JobFailed(job, envelope, exc, time.monotonic() - started, 1))
            raise
        self.manager.events.dispatch(JobProcessed(job, envelope, 1, time.monotonic() - started, result))

    def bulk(self, items: Sequence[PushItem]) -> None:
        for item in items:
            self.push(item.payload, item.queue, item.delay, item.priority)

    def pop(self, queue: str, worker_id: str) -> None:
        return None

    def sizes(self, queue: str) -> QueueSizes:
        return QueueSizes(0, 0, 0)

    def clear(self, queue: str) -> int:
        return 0

    def clear_payloads(self, queue: str) -> list[str]:
        """Nothing is ever stored, so nothing is cleared."""
        return []

    def queues(self) -> list[str]:
        return []

    def close(self) -> None:
        self.runner.close()


__all__ = ["SyncQueue", "JobState"]
