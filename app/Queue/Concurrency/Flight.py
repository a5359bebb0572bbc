"""One job in flight in a concurrent worker: what runs, since when, until when, and who settles it."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.Jobs.Job import Job
    from app.Queue.RetryPolicy import RetryPolicy


class FlightState(Enum):
    """Where a flight is; only the first move out of QUEUED/RUNNING to a final state settles the job."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"            # its slot settled it
    ABANDONED = "abandoned"  # the lease keeper settled it as timed out; whatever the code still does is ignored


@dataclass(eq=False, slots=True)  # slots: one made per job, its fields read on several threads
class Flight:
    """A reserved job handed to a slot; `deadline` (monotonic) is when the keeper stops waiting for it."""

    reserved: Any  # an OwnedJob
    job: Job
    envelope: dict[str, Any]
    policy: RetryPolicy
    started: float
    deadline: float | None
    is_async: bool
    renew_at: float = 0.0
    state: FlightState = FlightState.QUEUED
    finished: bool = False  # the job's code returned (even after being abandoned)
    timed_out: bool = False  # an async job's soft timeout cancelled it (TimeoutLine)
    slot: Any = None        # the ThreadSlot running it (threads only)
    task: Any = None        # the asyncio task running it (async only)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.renew_at = time.monotonic() + max(0.05, self.reserved.retry_after / 3)

    def start(self) -> bool:
        """Mark the job as running; False when the keeper already gave up on it."""
        with self._lock:
            if self.state is not FlightState.QUEUED:
                return False
            self.state = FlightState.RUNNING
            return True

    def settle(self, final: FlightState) -> bool:
        """Move to a final state; True only for the one caller that gets to settle the job."""
        with self._lock:
            if self.state in (FlightState.DONE, FlightState.ABANDONED):
                return False
            self.state = final
            return True

    @property
    def uuid(self) -> str:
        return str(self.envelope.get("uuid") or self.job.job_id or "")
