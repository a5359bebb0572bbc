"""The plain JobSource: reserve one job per call."""
from __future__ import annotations

import logging
from typing import Callable, Sequence

from app.Queue.contracts import BlockingPop, QueueDriver, ReservedJob

log = logging.getLogger("queue.worker")


def ack(job: ReservedJob) -> None:
    """Delete a finished job, warning when its reservation was lost (it may then run again)."""
    if not job.delete():
        log.warning("job on %s finished after its reservation was lost; it may run again", job.queue)


def ack_then(job: ReservedJob, meanwhile: Callable[[], None] | None) -> None:
    """`ack(job)`, then `meanwhile()` (a JobSource's `finished` whose ack waits for its reply), even when the ack failed."""
    try:
        ack(job)
    finally:
        if meanwhile is not None:
            meanwhile()


class OneAtATime:
    """Reserve one job per call: a blocking pop where the driver can wait (BlockingPop), else a pop of each queue in order."""

    def __init__(self, driver: QueueDriver, worker_id: str) -> None:
        self.driver = driver
        self.worker_id = worker_id
        self._blocking = driver if isinstance(driver, BlockingPop) else None
        self.waits = self._blocking is not None

    def next_job(self, queues: Sequence[str], wait: float) -> ReservedJob | None:
        """Reserve the next job of the first queue that has one, waiting up to `wait` seconds where the driver can."""
        if self._blocking is not None and wait > 0:
            return self._blocking.pop_blocking(queues, self.worker_id, wait)
        for name in queues:
            job = self.driver.pop(name, self.worker_id)
            if job is not None:
                return job
        return None

    def finished(self, job: ReservedJob, queues: Sequence[str], meanwhile: Callable[[], None] | None = None) -> None:
        """Ack the finished job, then call `meanwhile`."""
        ack_then(job, meanwhile)

    def close(self) -> None:
        """Nothing is held between calls."""
