"""Throttle a job's exceptions: after N failures within a window, hold the job back (Laravel ThrottlesExceptions)."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from app.Jobs.Middleware.Middleware import Middleware, Next, manager_of
from app.Jobs.RateLimiter import Limiter
from app.Queue.Serializer import class_path

if TYPE_CHECKING:
    from app.Jobs.Job import Job

log = logging.getLogger("queue.throttle")


class ThrottleMiddleware(Middleware):
    """Count exceptions per job class (or `key`) in a `decay_seconds` window, shared by all workers.

    An exception is counted and the job released after `backoff` seconds; once
    `max_exceptions` are counted in the window, the job is not run but released until
    the window ends. A success clears the count. Each release is an attempt, so pair it
    with `retry_until` or generous `max_tries`.
    """

    def __init__(self, max_exceptions: int, decay_seconds: float, backoff: float = 0, key: str = "") -> None:
        if isinstance(max_exceptions, bool) or not isinstance(max_exceptions, int) or max_exceptions < 1:
            raise ValueError(f"ThrottleMiddleware max_exceptions must be a positive integer, got {max_exceptions!r}")
        if decay_seconds <= 0 or backoff < 0:
            raise ValueError("ThrottleMiddleware needs decay_seconds > 0 and backoff >= 0")
        self.max_exceptions = max_exceptions
        self.decay_seconds = decay_seconds
        self.backoff = backoff
        self.key = key

    def cache_key(self, job: Job) -> str:
        return f"throttle:{self.key or class_path(type(job))}"

    def handle(self, job: Job, next: Next) -> Any:
        limiter = Limiter(manager_of().cache)
        key = self.cache_key(job)
        if limiter.too_many_attempts(key, self.max_exceptions):
            job.release(limiter.available_in(key))
            return None
        try:
            result = next(job)
        except Exception as exc:
            limiter.hit(key, self.decay_seconds)
            log.warning("%s %s raised %s: %s; released for %g s", type(job).__name__, job.job_id,
                        type(exc).__name__, exc, self.backoff)
            job.release(self.backoff)
            return None
        limiter.clear(key)
        return result
