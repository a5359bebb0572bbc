"""Skip a job (it counts as done) when a condition holds: `Skip.when(cond)` / `Skip.unless(cond)`."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from app.Jobs.Middleware.Middleware import Middleware, Next
from app.Jobs.Middleware.Refs import call_with_job, live, storable

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
        condition = live(self.condition)
        value = bool(call_with_job(condition, job) if callable(condition) else condition)
        return not value if self.negate else value

    def handle(self, job: Job, next: Next) -> Any:
        if self.should_skip(job):
            return None  # not run, and not released: the worker deletes it as done
        return next(job)

    def to_payload(self) -> dict[str, Any]:
        """A bool, or a module-level function (stored by reference); a lambda only from middleware()."""
        return {"condition": storable(self.condition, "Skip condition"), "negate": self.negate}
