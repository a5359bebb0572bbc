"""ChainMonitor: where a chain is (seed path app.Jobs.ChainMonitor); status is kept 7 days in the cache store."""
from __future__ import annotations

from dataclasses import dataclass

from app.Queue.errors import QueueError
from app.Queue.QueueManager import manager

STATUS_TTL = 7 * 86400


def status_key(chain_id: str) -> str:
    """The cache key of a chain's status (written by app/Bus/ChainRecorder.py)."""
    return f"chain:{chain_id}"


@dataclass(frozen=True, slots=True)
class ChainStatus:
    """`current_step` is 1-based (0 before the first step starts); `state` is pending|running|completed|failed."""

    chain_id: str
    name: str
    current_step: int
    total_steps: int
    completed_steps: int
    progress: float
    state: str
    error: str | None = None


class ChainMonitor:
    """Read the status of one chain."""

    def __init__(self, chain_id: str) -> None:
        self.chain_id = str(chain_id)

    def get_status(self) -> ChainStatus:
        """Get the chain's current step, total steps, progress (percent of steps completed) and state."""
        raw = manager().cache.get(status_key(self.chain_id))
        if not isinstance(raw, dict):
            raise QueueError(f"no chain matches the ID [{self.chain_id}] (chain status is kept for 7 days)")
        total = int(raw.get("total") or 0)
        completed = int(raw.get("completed") or 0)
        progress = round(completed * 100.0 / total, 2) if total else 0.0
        return ChainStatus(self.chain_id, str(raw.get("name") or ""), int(raw.get("current") or 0), total,
                           completed, progress, str(raw.get("state") or "pending"), raw.get("error"))
