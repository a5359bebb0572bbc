"""Per-queue settings declared with `define_queue(...)` in config/queue.py."""
from __future__ import annotations

import math
from dataclasses import dataclass

from app.Queue.DispatchChecks import check_queue_name


@dataclass
class QueueDefinition:
    """What `define_queue` records for one queue name."""

    name: str
    connection: str | None = None
    max_jobs: int | None = None
    priority_weight: int | None = None  # weighted fair sharing in a worker's queue list (app/Queue/QueueWeights.py)
    rate_limit_enabled: bool = False
    rate_limit_max: int | None = None
    rate_limit_window: float | None = None
    max_attempts: int | None = None
    retry_after: float | None = None
    encryption_enabled: bool = False

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ValueError("define_queue needs a queue name")
        check_queue_name(self.name, "define_queue: queue name")
        for attr in ("max_jobs", "rate_limit_max", "max_attempts", "priority_weight"):
            value = getattr(self, attr)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ValueError(f"define_queue({self.name!r}): {attr} must be a positive integer, got {value!r}")
        for attr in ("rate_limit_window", "retry_after"):
            value = getattr(self, attr)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not math.isfinite(value) or value <= 0):
                raise ValueError(f"define_queue({self.name!r}): {attr} must be a positive number, got {value!r}")
        for attr in ("rate_limit_enabled", "encryption_enabled"):
            if not isinstance(getattr(self, attr), bool):
                raise ValueError(f"define_queue({self.name!r}): {attr} must be True or False, got {getattr(self, attr)!r}")
        if self.rate_limit_enabled and (self.rate_limit_max is None or self.rate_limit_window is None):
            raise ValueError(f"define_queue({self.name!r}): rate_limit_enabled needs rate_limit_max and rate_limit_window")
