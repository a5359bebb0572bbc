"""The last result of each event, kept in the cache store for schedule:list.

Read back as untrusted data: anything that is not the expected shape is ignored, strings
are clipped, and callers escape them before printing (cleo markup).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager
    from app.Scheduling.Event import Event

RESULT_PREFIX = "schedule:last:"
RESULT_TTL = 90 * 86400  # a monthly event's result must survive until its next run
STATUSES = ("ok", "failed", "running")
MAX_TEXT = 500


@dataclass(frozen=True)
class LastResult:
    """How the event's latest run went: status (ok | failed | running), times in unix seconds, a one-line note."""

    status: str
    due: int
    started: float
    duration: float
    message: str
    host: str

    @classmethod
    def from_store(cls, raw: Any) -> LastResult | None:
        """Rebuild from stored JSON, or None when it is not a well-formed result."""
        if not isinstance(raw, dict) or raw.get("status") not in STATUSES:
            return None
        try:
            return cls(str(raw["status"]), int(raw["due"]), float(raw["started"]), float(raw["duration"]),
                       str(raw.get("message", ""))[:MAX_TEXT], str(raw.get("host", ""))[:200])
        except (KeyError, TypeError, ValueError, OverflowError):
            return None


class LastResults:
    """Write and read last results through the cache store."""

    def __init__(self, manager: QueueManager) -> None:
        self.manager = manager

    def record(self, event: Event, result: LastResult) -> None:
        """Store `result` as the event's latest."""
        data = asdict(result)
        data["message"] = result.message[:MAX_TEXT]
        self.manager.cache.put(RESULT_PREFIX + event.mutex_id(), data, RESULT_TTL)

    def get(self, event: Event) -> LastResult | None:
        """The event's latest result, if any."""
        return LastResult.from_store(self.manager.cache.get(RESULT_PREFIX + event.mutex_id()))

    def many(self, events: list[Event]) -> dict[str, LastResult]:
        """Latest results of several events, keyed by mutex id."""
        found: dict[str, LastResult] = {}
        for event in events:
            result = self.get(event)
            if result is not None:
                found[event.mutex_id()] = result
        return found
