"""Measure how long a job's handle takes, and warn about slow runs."""
from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from app.Jobs.Middleware.Middleware import Middleware, Next

if TYPE_CHECKING:
    from app.Jobs.Job import Job

log = logging.getLogger("queue.timing")


class TimingMiddleware(Middleware):
    """Record each run's duration on the job (read it with `execution_time(job)`); warn above `warn_after` s."""

    def __init__(self, warn_after: float | None = None) -> None:
        self.warn_after = warn_after

    def handle(self, job: Job, next: Next) -> Any:
        started = time.perf_counter()
        try:
            return next(job)
        finally:
            elapsed = time.perf_counter() - started
            job.__dict__["_execution_time"] = elapsed
            if self.warn_after is not None and elapsed > self.warn_after:
                log.warning("%s %s took %.3f s (over %.3f s)", type(job).__name__, job.job_id, elapsed, self.warn_after)
            else:
                log.debug("%s %s took %.3f s", type(job).__name__, job.job_id, elapsed)


def execution_time(job: Job) -> float | None:
    """Seconds the job's last run took under TimingMiddleware (None when not timed)."""
    value = job.__dict__.get("_execution_time")
    return float(value) if value is not None else None
