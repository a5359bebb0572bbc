"""Log each run of a job: start, finish with duration, or the exception."""
from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from app.Jobs.Middleware.Middleware import Middleware, Next

if TYPE_CHECKING:
    from app.Jobs.Job import Job


class LoggingMiddleware(Middleware):
    """Write job start/finish/failure lines to a logger (default `queue.jobs`)."""

    def __init__(self, logger: str = "queue.jobs", level: str = "INFO") -> None:
        if not isinstance(logging.getLevelName(level.upper()), int):
            raise ValueError(f"LoggingMiddleware level must be a logging level name, got {level!r}")
        self.logger = logger
        self.level = level.upper()

    def handle(self, job: Job, next: Next) -> Any:
        log = logging.getLogger(self.logger)
        level = logging.getLevelName(self.level)
        name = type(job).__name__
        log.log(level, "%s %s starting (attempt %s)", name, job.job_id, job.attempts)
        started = time.perf_counter()
        try:
            result = next(job)
        except Exception:
            log.exception("%s %s raised after %.3f s", name, job.job_id, time.perf_counter() - started)
            raise
        log.log(level, "%s %s finished in %.3f s", name, job.job_id, time.perf_counter() - started)
        return result
