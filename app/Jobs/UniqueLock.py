"""Unique jobs: take the lock at dispatch, release it when the job is done, cleared or forgotten.

The lock key names the job (`unique:<module:Class>:<unique_id>`); the owner token names
the queued copy (`unique/<connection>/<queue>/<uuid>`), so a late release by an old
copy never frees a lock a newer dispatch holds, and `queue:clear` can free every lock
of one queue by owner prefix.
"""
from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

from app.Jobs.Contracts import ShouldBeUnique, ShouldBeUniqueUntilProcessing, unique_for_seconds
from app.Queue.errors import QueueError
from app.Queue.events import JobFailed, JobProcessed, JobProcessing
from app.Queue.Serializer import class_path
from app.Queue.Cache.lock_owners import owner_token, queue_owner_prefix
from app.Queue.Quarantine import claimed_uuid

if TYPE_CHECKING:
    from app.Jobs.Job import Job
    from app.Queue.QueueManager import QueueManager

log = logging.getLogger("queue.unique")


def lock_key(job: ShouldBeUnique) -> str:
    """Name the lock shared by every job of this class with the same unique_id()."""
    return f"unique:{class_path(type(job))}:{job.unique_id()}"


class UniqueLocks:
    """The push guard and the listeners that keep unique locks, bound to one manager."""

    def __init__(self, manager: QueueManager) -> None:
        self.manager = manager

    def guard(self, job: Job, queue: str, connection: str) -> bool:
        """Refuse the push (return False) while another copy of a unique job holds the lock."""
        if not isinstance(job, ShouldBeUnique):
            return True
        job_uuid = job.job_id or str(uuid.uuid4())
        if not self.manager.locks.acquire(lock_key(job), owner_token(connection, queue, job_uuid), unique_for_seconds(job)):
            log.info("%s is already queued (lock %s); dispatch ignored", type(job).__name__, lock_key(job))
            return False
        job.job_id = job_uuid  # the payload reuses it, so the lock's owner token names this copy
        return True

    def release(self, job: Any, envelope: dict[str, Any]) -> bool:
        """Release the lock of a unique job if this queued copy still holds it."""
        if not isinstance(job, ShouldBeUnique):
            return False
        owner = owner_token(str(envelope.get("connection", "")), str(envelope.get("queue", "")), str(envelope.get("uuid", "")))
        return self.manager.locks.release(lock_key(job), owner)

    def on_processing(self, event: JobProcessing) -> None:
        if isinstance(event.job, ShouldBeUniqueUntilProcessing):
            self.release(event.job, event.envelope)

    def on_done(self, event: JobProcessed | JobFailed) -> None:
        # A record no worker could decode (job None) had its lock freed by app/Queue/Quarantine.py,
        # by the uuid the record claims: the failure's own uuid may be a fresh one naming the row.
        if event.job is not None:
            self.release(event.job, event.envelope)


def release_for_queue(manager: QueueManager, connection: str, queue: str) -> int:
    """Free the unique locks held by jobs of one queue (queue:clear deletes those jobs)."""
    return manager.locks.release_owned_by_prefix(queue_owner_prefix(connection, queue))


def release_for_payload(manager: QueueManager, payload: str, connection: str | None = None, queue: str | None = None) -> bool:
    """Free the unique lock a stored payload's job still holds (queue:forget of a failed job).

    A payload that cannot be verified frees the lock owned by the copy it claims to be (by its
    uuid on `connection`/`queue`): that copy was refused and will not run.
    """
    try:
        envelope = manager.codec.parse(payload)
        job = manager.codec.restore(envelope)
    except Exception as exc:  # unverifiable or undecodable: fall back to the owner token
        log.info("cannot read forgotten payload to free its unique lock: %s", exc)
        claimed = claimed_uuid(payload)
        if claimed is None or connection is None or queue is None:
            return False
        return manager.locks.release_owned_by_prefix(owner_token(connection, queue, claimed)) > 0
    return UniqueLocks(manager).release(job, envelope)


def acquire_for_retry(manager: QueueManager, payload: str, connection: str, queue: str, job_uuid: str) -> bool:
    """Take the unique lock again for a failed job pushed back by queue:retry; False while another copy holds it.

    A payload that cannot be decoded takes no lock: the worker fails it again, and a lock it
    might hold is freed by its owner token then (app/Queue/Quarantine.py).
    """
    try:
        job = manager.codec.restore(manager.codec.parse(payload))
    except QueueError:
        return True
    if not isinstance(job, ShouldBeUnique):
        return True
    return manager.locks.acquire(lock_key(job), owner_token(connection, queue, job_uuid), unique_for_seconds(job))


def register(manager: QueueManager) -> None:
    """Install the unique-lock guard and listeners on `manager`."""
    locks = UniqueLocks(manager)
    manager.push_guards.append(locks.guard)
    manager.events.listen(JobProcessing, locks.on_processing)
    manager.events.listen(JobProcessed, locks.on_done)
    manager.events.listen(JobFailed, locks.on_done)
