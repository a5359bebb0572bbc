"""The one error the scheduler raises for bad schedule definitions and settings."""
from __future__ import annotations

from app.Queue.errors import QueueError


class ScheduleError(QueueError):
    """A schedule definition or scheduler setting is invalid; the message names the event or setting."""
