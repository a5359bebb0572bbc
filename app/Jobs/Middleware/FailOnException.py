"""Fail a job at once, without retries, when it raises one of the given exceptions (Laravel's FailOnException)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable

from app.Jobs.Middleware.Middleware import Middleware, Next
from app.Jobs.Middleware.Refs import call_with_job, exception_paths, live, matches, storable
from app.Bus.Callbacks import _positional

if TYPE_CHECKING:
    from app.Jobs.Job import Job


class FailOnException(Middleware):
    """`FailOnException([AuthorizationError, ValueError])`, or a callable `(exc[, job]) -> bool`."""

    def __init__(self, exceptions: Iterable[type[BaseException] | str] | Callable[..., Any]) -> None:
        if isinstance(exceptions, type):  # one class given bare
            exceptions = [exceptions]
        if callable(exceptions):
            self.exceptions: list[str] = []
            self.predicate: Any = exceptions
        else:
            self.exceptions = exception_paths(exceptions)
            self.predicate = None
            if not self.exceptions:
                raise ValueError("FailOnException needs at least one exception class or a callable")

    def should_fail(self, exc: BaseException, job: Job) -> bool:
        predicate = live(self.predicate)
        if predicate is not None:
            return bool(predicate(exc, job) if _positional(predicate) >= 2 else call_with_job(predicate, exc))
        return matches(exc, self.exceptions)

    def handle(self, job: Job, next: Next) -> Any:
        try:
            return next(job)
        except Exception as exc:
            if self.should_fail(exc, job):
                job.fail(exc)
                return None
            raise

    def to_payload(self) -> dict[str, Any]:
        return {"exceptions": self.exceptions, "predicate": storable(self.predicate, "FailOnException")}
