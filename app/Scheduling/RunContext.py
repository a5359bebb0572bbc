"""The due time of the event running now, for code a scheduled call runs (`due_time()`)."""
from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime

_due: ContextVar[datetime | None] = ContextVar("scheduled_due_time", default=None)


def due_time() -> datetime | None:
    """The UTC minute the running scheduled event was due at (None outside the scheduler)."""
    return _due.get()


def set_due_time(minute: datetime | None) -> object:
    """Set the due time for this thread's context; returns a token for `reset_due_time`."""
    return _due.set(minute)


def reset_due_time(token: object) -> None:
    """Restore the due time saved in `token`."""
    _due.reset(token)  # type: ignore[arg-type]
