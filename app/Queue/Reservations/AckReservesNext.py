"""A JobSource whose ack of a finished job reserves the next job in the same round trip (Redis, databases)."""
from __future__ import annotations

from typing import Sequence

from app.Queue.contracts import AckAndReserve, QueueDriver, ReservedJob
from app.Queue.Reservations.OneAtATime import OneAtATime, ack


class AckReservesNext(OneAtATime):
    """One job at a time, where `finished(job, queues)` deletes `job` and reserves the next job of `queues` in one call.

    The job reserved with the ack is counted as an attempt by the store; `next_job` hands it out
    first. One never started (the worker stopped) is handed back with its attempt undone.
    """

    def __init__(self, driver: QueueDriver, combined: AckAndReserve, worker_id: str) -> None:
        super().__init__(driver, worker_id)
        self._combined = combined
        self._next: ReservedJob | None = None

    def next_job(self, queues: Sequence[str], wait: float) -> ReservedJob | None:
        """The job reserved with the last ack, else a fresh reservation."""
        job = self._next
        if job is not None:
            self._next = None
            return job
        return super().next_job(queues, wait)

    def finished(self, job: ReservedJob, queues: Sequence[str]) -> None:
        """Ack `job`, reserving the next job of `queues` with it when a next job is wanted and none is in hand."""
        if queues and self._next is None:
            self._next = self._combined.delete_and_pop(job, queues, self.worker_id)
        else:
            ack(job)

    def close(self) -> None:
        """Hand back the job reserved with the last ack, unused: its attempt does not count."""
        job, self._next = self._next, None
        if job is not None:
            job.release(0, undo_attempt=True)
