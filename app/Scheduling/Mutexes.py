"""The scheduler's locks in the cache store: one claim per (event, due minute), one overlap mutex per event.

The store holds only these locks and last results, never what to run: events always come
from routes/console.py. Keys are built from the event's mutex id (a hash) and a minute.
"""
from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager
    from app.Scheduling.Event import Event

# A claim must outlive every server's chance to evaluate that minute: schedule:work catches
# up at most MAX_CATCH_UP_MINUTES (ScheduleWorker), so two hours is ample.
CLAIM_TTL = 2 * 3600
CLAIM_PREFIX = "schedule:server:"
OVERLAP_PREFIX = "schedule:overlap:"


def owner_token() -> str:
    """Identify this process's lock holder: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def claim_key(event: Event, minute: datetime) -> str:
    """The cache key that decides which server runs `event` for the due `minute`."""
    return f"{CLAIM_PREFIX}{event.mutex_id()}:{int(minute.timestamp())}"


def overlap_key(event: Event) -> str:
    """The lock held while `event` runs when it is without_overlapping()."""
    return f"{OVERLAP_PREFIX}{event.mutex_id()}"


class ScheduleMutexes:
    """Take and release the scheduler's locks through the queue manager's cache and lock stores."""

    def __init__(self, manager: QueueManager, owner: str | None = None) -> None:
        self.manager = manager
        self.owner = owner or owner_token()

    def claim(self, event: Event, minute: datetime) -> bool:
        """Atomically claim the due `minute` of `event`; False when another server claimed it first."""
        return bool(self.manager.cache.add(claim_key(event, minute), self.owner, CLAIM_TTL))

    def claimed_by(self, event: Event, minute: datetime) -> str | None:
        """Who claimed the due `minute` of `event` (untrusted text from the store)."""
        value = self.manager.cache.get(claim_key(event, minute))
        return value if isinstance(value, str) else None

    def lock_overlap(self, event: Event) -> bool:
        """Take the event's overlap mutex for at most its expires_after minutes; False while a run holds it."""
        minutes = event.overlap_minutes or 0
        return bool(self.manager.locks.acquire(overlap_key(event), self.owner, minutes * 60))

    def release_overlap(self, event: Event) -> None:
        """Release the overlap mutex if this process still holds it."""
        self.manager.locks.release(overlap_key(event), self.owner)

    def overlap_holder(self, event: Event) -> str | None:
        """Who holds the event's overlap mutex now (untrusted text from the store)."""
        return self.manager.locks.owner(overlap_key(event))

    def clear_overlap(self, event: Event) -> None:
        """Free the overlap mutex whoever holds it (after a crashed run)."""
        self.manager.locks.force_release(overlap_key(event))
