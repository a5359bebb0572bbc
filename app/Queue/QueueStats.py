"""The numbers `get_stats` reports for one queue."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Counts for one queue; `processing` is the seed's name for reserved."""

    queue: str
    connection: str
    pending: int
    delayed: int
    reserved: int
    failed: int

    @property
    def processing(self) -> int:
        return self.reserved

    @property
    def size(self) -> int:
        return self.pending + self.delayed + self.reserved

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "size": self.size}
