"""Skip a job (it counts as done) when a condition holds: `Skip.when(cond)` / `Skip.unless(cond)`."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from app.Jobs.Middleware.Middleware import Middleware, Next
from app.Queue.errors import SerializationError

if TYPE_CHECKING:
    from app.Jobs.Job import Job

Condition = bool | Callable[["Job"], Any]


class Skip(Middleware):
    """Do not run the job when the condition (a bool, or a callable taking the job) says so."""

    def __init__(self, condition: Condition = False, negate: bool = False) -> None:
        self.condition = condition
        self.negate = negate

    @classmethod
    def when(cls, condition: Condition) -> Skip:
        """Skip the job when `condition` is true."""
        return cls(condition)

    @classmethod
    def unless(cls, condition: Condition) -> Skip:
        """Skip the job unless `condition` is true."""
        return cls(condition, negate=True)

    def should_skip(self, job: Job) -> bool:
        value = bool(self.condition(job) if callable(self.condition) else self.condition)
        return not value if self.negate else value

    def handle(self, job: Job, next: Next) -> Any:
        if self.should_skip(job):
            return None  # not run, and not released: the worker deletes it as done
        return next(job)

    def to_payload(self) -> dict[str, Any]:
        if callable(self.condition):
            raise SerializationError(
                "Skip with a callable condition cannot be stored with the job; pass a bool, "
                "or return the middleware from a middleware() method instead of setting it in __init__"
            )
        return super().to_payload()
