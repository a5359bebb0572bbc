"""When a worker stops: signals, the restart flag, paused queues, memory, --max-jobs/--max-time/--stop-when-empty.

The cache flags (queue:restart, queue:pause) are read at most once per FLAG_CHECK_INTERVAL, and
RSS as rarely: both cost a measurable share of a no-op job.
"""
from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any, Sequence

from app.Queue.contracts import ReadMany
from app.Queue.WorkerOptions import StopReason, WorkerOptions

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager

RESTART_KEY = "queue:restart"
FLAG_CHECK_INTERVAL = 1.0  # seconds between reads of the restart and pause flags


def paused_key(connection: str, queue: str) -> str:
    """The cache key that pauses `queue` of `connection` (queue:pause)."""
    return f"queue:paused:{connection}:{queue}"


def rss_mb() -> float:
    """Resident memory of this process in MB (Linux /proc; falls back to peak RSS)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)
    except (OSError, ValueError, IndexError):
        import resource  # only where /proc is missing

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class StopConditions:
    """The worker's stop checks, in order, and the shared flags they read (restart, paused queues)."""

    def __init__(self, manager: QueueManager, options: WorkerOptions) -> None:
        self.manager = manager
        self.options = options
        self.paused: set[str] = set()
        self.started = time.monotonic()
        self._flags_checked_at = 0.0
        self._restart_at_start: Any = None
        self._restart_now: Any = None
        self._memory_checked_at: float | None = None
        self._over_memory = False

    def start(self) -> None:
        """Note the restart flag as the worker starts (only a later queue:restart stops it) and start the clock."""
        self._restart_at_start = self._restart_now = self.manager.cache.get(RESTART_KEY)
        self.started = time.monotonic()

    def check(self, should_quit: bool, ran_job: bool, jobs_processed: int) -> tuple[int, StopReason] | None:
        """Determine if the worker should stop, and with which exit status (checked after every job)."""
        o = self.options
        if should_quit:
            return 0, StopReason.INTERRUPTED
        if self._restart_now is not None and self._restart_now != self._restart_at_start:
            return 0, StopReason.RESTART
        if self._memory_exceeded():
            return 12, StopReason.MEMORY
        if o.once:
            return 0, StopReason.ONCE
        if o.max_jobs > 0 and jobs_processed >= o.max_jobs:
            return 0, StopReason.MAX_JOBS
        if o.max_time > 0 and time.monotonic() - self.started >= o.max_time:
            return 0, StopReason.MAX_TIME
        if o.stop_when_empty and not ran_job:
            return 0, StopReason.EMPTY
        return None

    def unpaused(self, connection: str, queues: Sequence[str]) -> list[str]:
        """The queues not paused by queue:pause (flags re-read at most once per FLAG_CHECK_INTERVAL)."""
        t = time.monotonic()
        if t - self._flags_checked_at >= FLAG_CHECK_INTERVAL:
            self._flags_checked_at = t
            cache = self.manager.cache
            keys = [paused_key(connection, q) for q in queues]
            values = cache.many(keys) if isinstance(cache, ReadMany) else {k: cache.get(k) for k in keys}
            self.paused = {q for q, k in zip(queues, keys) if values.get(k)}
            self._restart_now = cache.get(RESTART_KEY)
        return [q for q in queues if q not in self.paused]

    def job_ran(self) -> None:
        """A restart sent while a job ran must stop the worker before it takes another job."""
        if time.monotonic() - self._flags_checked_at >= FLAG_CHECK_INTERVAL:
            self._restart_now = self.manager.cache.get(RESTART_KEY)

    def _memory_exceeded(self) -> bool:
        """Compare RSS with --memory, reading /proc at most once per FLAG_CHECK_INTERVAL.

        Reading RSS costs ~10 us, several per cent of a no-op job on Redis; memory
        grows slowly, so a worker still exits within a second of passing its limit.
        """
        if self.options.memory <= 0:
            return False
        t = time.monotonic()
        if self._memory_checked_at is None or t - self._memory_checked_at >= FLAG_CHECK_INTERVAL:
            self._memory_checked_at = t
            self._over_memory = rss_mb() >= self.options.memory
        return self._over_memory
