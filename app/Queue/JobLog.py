"""Send every job lifecycle event to the stdlib `logging` tree, under the `queue.job` logger.

Each record carries `job_id`, `job_class`, `queue`, `connection`, `attempt` and (when the
attempt ended) `runtime_ms` as `extra` fields, so JSON formatters, Sentry, journald or Loki
can index them. A failed attempt logs its exception with the traceback: WARNING when the job
will be retried, ERROR when it failed for good. Start and success are INFO.
"""
from __future__ import annotations

import logging
from time import monotonic
from typing import TYPE_CHECKING, Any

from app.Queue.events import JobFailed, JobProcessed, JobProcessing, JobReleased, WorkerStarting

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager

job_log = logging.getLogger("queue.job")
worker_log = logging.getLogger("queue.worker")


def job_fields(envelope: dict[str, Any], attempt: int, runtime: float | None = None) -> dict[str, Any]:
    """The `extra` fields of a job's log records."""
    fields: dict[str, Any] = {
        "job_id": envelope.get("uuid"),
        "job_class": envelope.get("displayName") or "?",
        "queue": envelope.get("queue"),
        "connection": envelope.get("connection"),
        "attempt": attempt,
    }
    if runtime is not None:
        fields["runtime_ms"] = round(runtime * 1000, 2)
    return fields


class JobLogListener:
    """Log lifecycle events; remembers when each attempt started to time a release."""

    def __init__(self) -> None:
        # One dict operation per event, atomic under the GIL (the heartbeat thread may release a
        # job that ignored its timeout): no lock, as this runs for every job.
        self._started: dict[str | None, float] = {}

    def processing(self, event: JobProcessing) -> None:
        self._started[event.envelope.get("uuid")] = monotonic()
        if job_log.isEnabledFor(logging.INFO):
            fields = job_fields(event.envelope, event.attempts)
            job_log.info("%s %s processing (attempt %d)", fields["job_class"], fields["job_id"], event.attempts,
                         extra=fields)

    def processed(self, event: JobProcessed) -> None:
        self._started.pop(event.envelope.get("uuid"), None)
        if job_log.isEnabledFor(logging.INFO):
            fields = job_fields(event.envelope, event.attempts, event.runtime)
            job_log.info("%s %s done in %.2f ms", fields["job_class"], fields["job_id"], fields["runtime_ms"],
                         extra=fields)

    def released(self, event: JobReleased) -> None:
        fields = job_fields(event.envelope, event.attempts, self._forget(event.envelope))
        if event.exception is None:
            job_log.info("%s %s released; runs again in %g s", fields["job_class"], fields["job_id"], event.delay,
                         extra=fields)
            return
        job_log.warning("%s %s attempt %d failed; retrying in %g s: %s: %s", fields["job_class"], fields["job_id"],
                        event.attempts, event.delay, type(event.exception).__name__, event.exception,
                        exc_info=_exc_info(event.exception), extra=fields)

    def failed(self, event: JobFailed) -> None:
        runtime = self._forget(event.envelope)
        fields = job_fields(event.envelope, event.attempts, event.runtime or runtime)
        job_log.error("%s %s failed permanently after %d attempt(s): %s: %s", fields["job_class"], fields["job_id"],
                      event.attempts, type(event.exception).__name__, event.exception,
                      exc_info=_exc_info(event.exception), extra=fields)

    def _forget(self, envelope: dict[str, Any]) -> float | None:
        """Stop timing the job; returns how long its attempt ran, if its start was seen."""
        started = self._started.pop(envelope.get("uuid"), None)
        return None if started is None else monotonic() - started


def _exc_info(exc: BaseException) -> tuple[type[BaseException], BaseException, Any]:
    return type(exc), exc, exc.__traceback__


def _worker_starting(event: WorkerStarting) -> None:  # the worker logs its own stop, with the reason
    worker_log.info("worker %s started on %s [%s]", event.worker_id, event.connection, ", ".join(event.queues),
                    extra={"worker_id": event.worker_id, "connection": event.connection, "queues": list(event.queues)})


def register(manager: QueueManager) -> None:
    """Listen to the manager's lifecycle events."""
    listener = JobLogListener()
    events = manager.events
    events.listen(JobProcessing, listener.processing)
    events.listen(JobProcessed, listener.processed, after_ack=True)  # a log line: may follow the ack
    events.listen(JobReleased, listener.released)
    events.listen(JobFailed, listener.failed)
    events.listen(WorkerStarting, _worker_starting)
