"""The middleware contract (`handle(job, next)`) and a base class that travels with the job."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Protocol, runtime_checkable
from app.Queue.QueueManager import manager

if TYPE_CHECKING:
    from app.Jobs.Job import Job

Next = Callable[["Job"], Any]


@runtime_checkable
class JobMiddleware(Protocol):
    """Wraps a job's handle: call `next(job)` to go on, or return without it to skip the job."""

    def handle(self, job: Job, next: Next) -> Any: ...


class Middleware:
    """Base class: its public attributes are stored with the job, so a stack set in __init__ survives the queue."""

    def handle(self, job: Job, next: Next) -> Any:
        """Run the job (subclasses wrap this)."""
        return next(job)

    def to_payload(self) -> dict[str, Any]:
        """The attributes to store with the job (the serializer encodes the values)."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> Middleware:
        """Rebuild the middleware on the worker without calling __init__."""
        obj = cls.__new__(cls)
        obj.__dict__.update(data)
        return obj


def manager_of() -> Any:
    """The process's queue manager (middleware runs inside a worker or a dispatching process)."""
    return manager()
