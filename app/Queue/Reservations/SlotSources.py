"""JobSources for a concurrent worker's slot threads, each claiming and acking its own jobs on its own connection.

A driver that can give each thread a connection of its own (`ClaimsPerThread`, Redis) lets
every slot of `queue:work --concurrency=N` run the single worker's loop: the ack of a finished
job reserves the slot's next job in the same round trip (AckReservesNext), looking at the queues
in order, so strict priority holds per claim. Nothing passes through the worker's main thread,
which would otherwise be a serial step (and two thread hand-offs) in every job. (Holding a job
reserved ahead per slot, BatchReservations, was measured too: the same jobs/s at 20 ms jobs and
about 15 % more CPU per job, for the extra writes of BEGIN and the request ahead.)

Database drivers are left out: SQLite has one write lock per file (N claimers would queue on it,
where one main thread claiming for all does not), and a held connection per slot would take
N of the engine pool's connections.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from app.Queue.contracts import AckAndReserve, JobSource, QueueDriver
from app.Queue.Reservations.AckReservesNext import AckReservesNext
from app.Queue.Reservations.OneAtATime import OneAtATime


@runtime_checkable
class ClaimsPerThread(Protocol):
    """A driver that makes, for the calling thread, a driver of the same connection with its own held connection."""

    def for_thread(self) -> QueueDriver: ...


def per_slot(driver: QueueDriver) -> bool:
    """Whether slot threads should claim their own jobs from `driver` (else the main thread reserves for all)."""
    return isinstance(driver, ClaimsPerThread)


def slot_source(driver: QueueDriver, worker_id: str) -> tuple[QueueDriver, JobSource]:
    """For the calling slot thread: its own driver (close it when the thread ends) and the source it claims through."""
    own = driver.for_thread() if isinstance(driver, ClaimsPerThread) else driver
    if isinstance(own, AckAndReserve):
        return own, AckReservesNext(own, own, worker_id)
    return own, OneAtATime(own, worker_id)
