"""The public event API, Laravel's `Queue::before(...)` style: `Queue.before(cb)`, `Queue.after(cb)`, ...

Register listeners in config/queue.py (it runs once in every process, workers included):

    from app.Queue.QueueEvents import Queue
    Queue.failing(lambda e: alert(f"{e.job_class} {e.job_id} failed on {e.connection}/{e.queue}: {e.exception}"))

Each callback gets one `QueueEvent` (job id, class, queue, connection, attempts, exception, the
job instance); `looping` and `stopping` get a `WorkerEvent`. The callbacks run in the worker,
in the order registered; an exception in one propagates like any listener's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from app.Queue.events import (JobExceptionOccurred, JobFailed, JobProcessed, JobProcessing, QueueBusy, WorkerLooping,
                              WorkerStopping)
from app.Queue.QueueManager import manager

if TYPE_CHECKING:
    from app.Jobs.Job import Job
    from app.Queue.QueueManager import QueueManager


@dataclass(frozen=True, slots=True)
class QueueEvent:
    """What a job event tells a listener."""

    name: str                       # before | after | failing | exception_occurred | timed_out
    job_id: str
    job_class: str
    queue: str
    connection: str
    attempts: int
    exception: BaseException | None = None
    job: Job | None = None          # None when a payload could not be decoded (failing)
    runtime: float | None = None    # seconds the attempt ran (after, failing)


@dataclass(frozen=True, slots=True)
class WorkerEvent:
    """What a worker event tells a listener: looping (connection, queues) or stopping (status, reason)."""

    name: str                       # looping | stopping
    connection: str = ""
    queues: tuple[str, ...] = ()
    status: int | None = None
    reason: str | None = None


def _job_event(name: str, job: Any, envelope: dict[str, Any], attempts: int, exception: BaseException | None = None,
               runtime: float | None = None) -> QueueEvent:
    job_class = type(job).__name__ if job is not None else str(envelope.get("displayName") or "?")
    return QueueEvent(name, str(envelope.get("uuid") or getattr(job, "job_id", "") or ""), job_class,
                      str(envelope.get("queue") or ""), str(envelope.get("connection") or ""), attempts,
                      exception, job, runtime)


class Queue:
    """Register callbacks on the process's queue manager (Laravel's Queue facade events)."""

    @staticmethod
    def _manager() -> QueueManager:
        m = manager()
        m.config  # boot the built-in listeners first, so user callbacks run after the bookkeeping
        return m

    @classmethod
    def before(cls, callback: Callable[[QueueEvent], Any]) -> None:
        """Call `callback` when a worker starts an attempt of a job."""
        cls._manager().events.listen(JobProcessing, lambda e: callback(_job_event("before", e.job, e.envelope, e.attempts)))

    @classmethod
    def after(cls, callback: Callable[[QueueEvent], Any]) -> None:
        """Call `callback` when a job finished an attempt without error."""
        cls._manager().events.listen(
            JobProcessed, lambda e: callback(_job_event("after", e.job, e.envelope, e.attempts, runtime=e.runtime)))

    @classmethod
    def failing(cls, callback: Callable[[QueueEvent], Any]) -> None:
        """Call `callback` when a job fails permanently (it is in failed_jobs)."""
        cls._manager().events.listen(
            JobFailed, lambda e: callback(_job_event("failing", e.job, e.envelope, e.attempts, e.exception, e.runtime)))

    @classmethod
    def exception_occurred(cls, callback: Callable[[QueueEvent], Any]) -> None:
        """Call `callback` when an attempt raises, before the job is released or failed."""
        cls._manager().events.listen(
            JobExceptionOccurred,
            lambda e: callback(_job_event("exception_occurred", e.job, e.envelope, e.attempts, e.exception)))

    @classmethod
    def timed_out(cls, callback: Callable[[QueueEvent], Any]) -> None:
        """Call `callback` when an attempt hits its timeout (soft, or hard when the job ignored it)."""
        def on_exception(e: JobExceptionOccurred) -> None:
            if e.timed_out:
                callback(_job_event("timed_out", e.job, e.envelope, e.attempts, e.exception))

        cls._manager().events.listen(JobExceptionOccurred, on_exception)

    @classmethod
    def looping(cls, callback: Callable[[WorkerEvent], Any]) -> None:
        """Call `callback` each time a worker is about to look for its next job."""
        cls._manager().events.listen(
            WorkerLooping, lambda e: callback(WorkerEvent("looping", e.connection, e.queues)))

    @classmethod
    def busy(cls, callback: Callable[[QueueBusy], Any]) -> None:
        """Call `callback(QueueBusy(connection, queue, size, max))` when queue:monitor finds a queue over its threshold."""
        cls._manager().events.listen(QueueBusy, callback)

    @classmethod
    def stopping(cls, callback: Callable[[WorkerEvent], Any]) -> None:
        """Call `callback` when a worker stops (its exit status and why)."""
        cls._manager().events.listen(
            WorkerStopping, lambda e: callback(WorkerEvent("stopping", status=e.status, reason=e.reason)))


__all__ = ["Queue", "QueueBusy", "QueueEvent", "WorkerEvent"]
