"""A JobSource whose ack of a finished job reserves the next job in the same round trip (Redis, databases)."""
from __future__ import annotations

from typing import Callable, Sequence

from app.Queue.contracts import AckAndReserve, AckAndReserveLater, QueueDriver, ReservedJob
from app.Queue.Reservations.OneAtATime import OneAtATime, ack_then


class AckReservesNext(OneAtATime):
    """One job at a time, where `finished(job, queues)` deletes `job` and reserves the next job of `queues` in one call.

    The job reserved with the ack is counted as an attempt by the store; `next_job` hands it out
    first. One never started (the worker stopped) is handed back with its attempt undone. Where the
    driver reads the reply later (AckAndReserveLater), `finished`'s `meanwhile` runs while it is on its way.
    """

    def __init__(self, driver: QueueDriver, combined: AckAndReserve, worker_id: str) -> None:
        super().__init__(driver, worker_id)
        self._combined = combined
        self._later = combined if isinstance(combined, AckAndReserveLater) else None
        self._next: ReservedJob | None = None

    def next_job(self, queues: Sequence[str], wait: float) -> ReservedJob | None:
        """The job reserved with the last ack, else a fresh reservation."""
        job = self._next
        if job is not None:
            self._next = None
            return job
        return super().next_job(queues, wait)

    def finished(self, job: ReservedJob, queues: Sequence[str], meanwhile: Callable[[], None] | None = None) -> None:
        """Ack `job`, reserving the next job of `queues` with it when a next job is wanted and none is in hand;
        `meanwhile` runs once the ack is sent (while its reply is on its way, where the driver allows)."""
        if not queues or self._next is not None:
            ack_then(job, meanwhile)
            return
        if self._later is None or meanwhile is None:
            try:
                self._next = self._combined.delete_and_pop(job, queues, self.worker_id)
            finally:
                if meanwhile is not None:
                    meanwhile()
            return
        try:
            read = self._later.send_delete_and_pop(job, queues, self.worker_id)
        except BaseException:
            meanwhile()
            raise
        try:
            meanwhile()
        finally:
            self._next = read()

    def close(self) -> None:
        """Hand back the job reserved with the last ack, unused: its attempt does not count."""
        job, self._next = self._next, None
        if job is not None:
            job.release(0, undo_attempt=True)
