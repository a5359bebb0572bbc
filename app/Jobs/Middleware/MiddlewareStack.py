"""An ordered list of job middleware, set in a job's __init__ (seed style) and stored with it."""
from __future__ import annotations

from typing import Any, Iterable, Iterator

from app.Jobs.Middleware.Middleware import JobMiddleware


class MiddlewareStack:
    """Middleware in onion order: the first added runs outermost."""

    def __init__(self, middleware: Iterable[JobMiddleware] = ()) -> None:
        self._items: list[JobMiddleware] = []
        for item in middleware:
            self.add(item)

    def add(self, middleware: JobMiddleware) -> MiddlewareStack:
        """Append a middleware (an object with `handle(job, next)`)."""
        if not isinstance(middleware, JobMiddleware):
            raise TypeError(f"job middleware needs a handle(job, next) method, got {type(middleware).__name__}")
        self._items.append(middleware)
        return self

    def __iter__(self) -> Iterator[JobMiddleware]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def to_payload(self) -> list[Any]:
        """Store the middleware objects themselves; each one serialises its own settings."""
        return list(self._items)

    @classmethod
    def from_payload(cls, data: list[Any]) -> MiddlewareStack:
        return cls(data)

    def __repr__(self) -> str:
        return f"MiddlewareStack({[type(m).__name__ for m in self._items]})"
