"""A custom retry policy for chosen exceptions: how many attempts, and how long between them."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Sequence

from app.Jobs.Middleware.Middleware import Middleware, Next
from app.Queue.Serializer import class_path

if TYPE_CHECKING:
    from app.Jobs.Job import Job


def _path(exc_type: type[BaseException] | str) -> str:
    return exc_type if isinstance(exc_type, str) else class_path(exc_type)


class RetryMiddleware(Middleware):
    """Retry on `retry_on` exceptions (default: any) up to `max_attempts`, waiting `delays` between tries.

    `delays` is seconds, or a list with one entry per attempt (the last repeats);
    `exponential=True` doubles the first delay at each attempt. After the last
    attempt the job fails permanently with the exception. Other exceptions go to the
    worker's normal policy. Attempts count against the job's max_tries too.
    """

    def __init__(self, max_attempts: int = 3, delays: float | Sequence[float] = 0, exponential: bool = False,
                 retry_on: Iterable[type[BaseException] | str] = ()) -> None:
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise ValueError(f"RetryMiddleware max_attempts must be a positive integer, got {max_attempts!r}")
        self.max_attempts = max_attempts
        self.delays = [float(d) for d in delays] if isinstance(delays, (list, tuple)) else [float(delays)]
        self.exponential = exponential
        self.retry_on = [_path(t) for t in retry_on]  # class paths: stored as text, matched without importing

    def matches(self, exc: BaseException) -> bool:
        """Tell whether this policy handles `exc` (by class or any base class)."""
        return not self.retry_on or any(class_path(c) in self.retry_on for c in type(exc).__mro__)

    def delay_for(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        if self.exponential:
            return self.delays[0] * 2 ** (max(attempt, 1) - 1)
        return self.delays[min(max(attempt, 1), len(self.delays)) - 1]

    def handle(self, job: Job, next: Next) -> Any:
        try:
            return next(job)
        except Exception as exc:
            if not self.matches(exc):
                raise
            if job.attempts < self.max_attempts:
                job.release(self.delay_for(job.attempts))
            else:
                job.fail(exc)
            return None
