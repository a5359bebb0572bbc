"""Throttle a job's exceptions: after N failures within a window, hold the job back (Laravel ThrottlesExceptions)."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable

from app.Jobs.Middleware.Middleware import Middleware, Next, manager_of
from app.Jobs.Middleware.Refs import exception_paths, live, matches, storable
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

    # Defaults for payloads stored before these options existed.
    only_when: Any = None
    delete_on: list[str] = []
    delete_predicate: Any = None
    report_with: Any = False

    def __init__(self, max_exceptions: int, decay_seconds: float, backoff: float = 0, key: str = "") -> None:
        if isinstance(max_exceptions, bool) or not isinstance(max_exceptions, int) or max_exceptions < 1:
            raise ValueError(f"ThrottleMiddleware max_exceptions must be a positive integer, got {max_exceptions!r}")
        if decay_seconds <= 0 or backoff < 0:
            raise ValueError("ThrottleMiddleware needs decay_seconds > 0 and backoff >= 0")
        self.max_exceptions = max_exceptions
        self.decay_seconds = decay_seconds
        self.backoff = backoff
        self.key = key
        self.only_when: Any = None       # when(): only exceptions it accepts are throttled
        self.delete_on: list[str] = []   # delete_when(ExcClass, ...): the job is deleted on these
        self.delete_predicate: Any = None
        self.report_with: Any = False    # report(): log throttled exceptions as errors (True, or a predicate)

    # -- Laravel's fluent options --------------------------------------------------------------
    def when(self, callback: Callable[..., Any]) -> ThrottleMiddleware:
        """Throttle only the exceptions `callback(exc)` accepts; others propagate untouched."""
        self.only_when = callback
        return self

    def delete_when(self, *conditions: type[BaseException] | str | Callable[..., Any]) -> ThrottleMiddleware:
        """Delete the job (no retry, counts as done) when it raises one of these classes, or a callable accepts the exception."""
        for condition in conditions:
            if callable(condition) and not isinstance(condition, type):
                self.delete_predicate = condition
            else:
                self.delete_on += exception_paths([condition])  # type: ignore[list-item]
        return self

    def report(self, callback: Callable[..., Any] | None = None) -> ThrottleMiddleware:
        """Report throttled exceptions (logged at ERROR with their traceback), all or those `callback(exc)` accepts."""
        self.report_with = callback if callback is not None else True
        return self

    def by_key(self, key: str) -> ThrottleMiddleware:
        """Share the throttle between jobs that use the same key (default: per job class)."""
        self.key = str(key)
        return self

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
            if self._deletes(exc):
                log.info("%s %s raised %s: deleted (delete_when)", type(job).__name__, job.job_id, type(exc).__name__)
                job.delete()
                return None
            if self.only_when is not None and not live(self.only_when)(exc):
                raise
            limiter.hit(key, self.decay_seconds)
            self._report(job, exc)
            job.release(self.backoff)
            return None
        limiter.clear(key)
        return result

    def _deletes(self, exc: BaseException) -> bool:
        if self.delete_on and matches(exc, self.delete_on):
            return True
        return self.delete_predicate is not None and bool(live(self.delete_predicate)(exc))

    def _report(self, job: Job, exc: BaseException) -> None:
        reporter = live(self.report_with)
        loud = reporter is True or (callable(reporter) and bool(reporter(exc)))
        message = "%s %s raised %s: %s; released for %g s"
        args = (type(job).__name__, job.job_id, type(exc).__name__, exc, self.backoff)
        if loud:
            log.error(message, *args, exc_info=exc)
        else:
            log.warning(message, *args)

    def to_payload(self) -> dict[str, Any]:
        data = super().to_payload()
        for name in ("only_when", "delete_predicate", "report_with"):
            data[name] = storable(data[name], f"ThrottleMiddleware.{name}") if data[name] is not True else True
        return data


ThrottlesExceptions = ThrottleMiddleware  # Laravel's name
