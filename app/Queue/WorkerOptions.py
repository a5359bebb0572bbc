"""Worker settings (from `queue:work` options) and the reasons a worker stops."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class StopReason(StrEnum):
    """Why the daemon loop ended."""

    INTERRUPTED = "interrupted"
    RESTART = "restart"
    MAX_JOBS = "max_jobs"
    MAX_TIME = "max_time"
    MEMORY = "memory"
    EMPTY = "empty"
    ONCE = "once"
    TIMED_OUT = "timed_out"


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """How a worker runs; a job's own max_tries/timeout/backoff win over these defaults."""

    name: str = "default"
    backoff: tuple[int, ...] = (0,)
    memory: int = 128            # MB of RSS before the worker exits (a supervisor restarts it)
    timeout: float = 60          # default soft timeout per attempt; 0 disables
    sleep: float = 3             # seconds to wait when no job is available (polling drivers)
    rest: float = 0              # seconds to pause between jobs
    max_tries: int = 3           # default attempts (seed default); 0 means unlimited
    stop_when_empty: bool = False
    max_jobs: int = 0
    max_time: float = 0
    once: bool = False
    permissions: tuple[str, ...] = field(default_factory=tuple)
    prefetch: int = 1            # jobs reserved per round trip (batch mode when > 1, drivers with pop_many)
    hard_timeout_grace: float = 2.0  # a job ignoring its timeout this long ends the worker process
    queue_weights: tuple[tuple[str, int], ...] = ()  # --queue=high:3,default:1 (weighted fair sharing)
    concurrency: int = 1         # jobs in flight at once (threads for def handle, one event loop for async def)
