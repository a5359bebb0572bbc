"""Marker contracts a job class opts into: unique while queued, or encrypted at rest.

    class ProcessUserDataJob(Job, ShouldBeUnique):
        def unique_id(self) -> str:
            return f"process_user_{self.user_id}"

        def unique_for(self) -> timedelta:
            return timedelta(hours=1)
"""
from __future__ import annotations

from datetime import timedelta

DEFAULT_UNIQUE_FOR = 3600.0  # seconds; a crashed worker can never hold a unique lock longer than this


class ShouldBeUnique:
    """Only one job with the same class and unique_id() may be queued (or running) at a time.

    The lock is taken at dispatch and released when the job completes, fails permanently,
    is cleared from its queue or forgotten from failed_jobs; `unique_for()` bounds it.
    """

    def unique_id(self) -> str:
        """Identify the job among others of its class; "" makes the whole class unique."""
        return ""

    def unique_for(self) -> timedelta | float | int:
        """How long the lock may be held at most (a timedelta or seconds)."""
        return DEFAULT_UNIQUE_FOR


class ShouldBeUniqueUntilProcessing(ShouldBeUnique):
    """Unique only while waiting: the lock is released as soon as a worker starts the job."""


class ShouldBeEncrypted:
    """The job's data is encrypted at rest (AES-GCM under APP_KEY); metadata stays readable."""


def unique_for_seconds(job: ShouldBeUnique) -> float:
    """Read `unique_for()` as positive seconds, refusing values that would hold a lock forever."""
    value = job.unique_for()
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
        raise ValueError(f"{type(job).__name__}.unique_for() must be a positive number of seconds or a timedelta, got {value!r}")
    return float(seconds)


__all__ = ["ShouldBeUnique", "ShouldBeUniqueUntilProcessing", "ShouldBeEncrypted", "unique_for_seconds"]
