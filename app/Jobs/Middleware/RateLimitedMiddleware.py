"""Rate-limit a job from its middleware (Laravel's RateLimited): over the limit, release it for later."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.Jobs.Middleware.Middleware import Middleware, Next, manager_of
from app.Jobs.RateLimiter import RateLimit

if TYPE_CHECKING:
    from app.Jobs.Job import Job


class RateLimitedMiddleware(Middleware):
    """Take a slot of `limit` before handle; without one, release the job until the window frees.

    The release counts as an attempt (as in Laravel); the `RateLimited` contract on a
    job is checked by the worker instead and does not use attempts.
    """

    def __init__(self, limit: RateLimit) -> None:
        if not isinstance(limit, RateLimit):
            raise TypeError(f"RateLimitedMiddleware needs a RateLimit, got {type(limit).__name__}")
        self.limit = limit

    def handle(self, job: Job, next: Next) -> Any:
        wait = self.limit.attempt(manager_of(), job)
        if wait is not None:
            job.release(wait)
            return None
        return next(job)
