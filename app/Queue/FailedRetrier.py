"""Push failed jobs back onto their queues (queue:retry, the dashboard)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable
from app.Audit.AuditTrail import audit, envelope_of
from app.Jobs.JobState import JobState
from app.Jobs.UniqueLock import acquire_for_retry

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager


def retry_failed(manager: QueueManager, idents: Iterable[str], on_missing: Callable[[str], None],
                 advance: Callable[[int], None] = lambda n=1: None,
                 on_locked: Callable[[str], None] | None = None) -> int:
    """Re-queue each failed job (fresh attempts) and forget its record; returns how many.

    The record read is the one forgotten: if a worker runs the re-queued job and it fails again
    before the forget, the new record (a new id) stays as the evidence of that failure.

    A unique job takes its lock again first; while another queued copy holds it the job stays
    in failed_jobs and `on_locked(ident)` is told (else it counts as missing).
    """

    done = 0
    for ident in idents:
        record = manager.failed.find(ident)
        if record is None:
            on_missing(ident)
            advance(1)
            continue
        if not acquire_for_retry(manager, record.payload, record.connection, record.queue, record.uuid):
            (on_locked or on_missing)(ident)
            advance(1)
            continue
        manager.statuses.mark(record.uuid, JobState.PENDING)  # before the push: a worker's verdict comes after it
        manager.connection(record.connection).push(record.payload, record.queue)
        manager.failed.forget_record(record)
        audit(manager, "retried", envelope_of(record.payload), queue=record.queue, connection=record.connection)
        done += 1
        advance(1)
    return done
