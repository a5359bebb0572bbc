"""Keep the return value of `handle()` for jobs that opt in with `store_result = True` (Celery's result backend).

The value is stored as JSON in the cache store under `job-result:<uuid>` for the job's
`result_ttl` seconds, written before the job is acked, so a `Job.wait()` that sees the job
completed finds its result. A value that is not JSON-serialisable is not stored: the job
still completes, and a warning says why.
"""
from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from app.Queue.events import JobProcessed

if TYPE_CHECKING:
    from app.Queue.contracts import CacheStore
    from app.Queue.QueueManager import QueueManager

log = logging.getLogger("queue.job")
MISSING = object()


def key(job_id: str) -> str:
    return f"job-result:{job_id}"


def put(store: CacheStore, job_id: str, value: Any, ttl: float) -> bool:
    """Store `value` for `ttl` seconds; False (and a warning) when it is not JSON-serialisable."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        log.warning("the result of job %s is not JSON-serialisable (%s); it was not stored", job_id, exc,
                    extra={"job_id": job_id})
        return False
    store.put(key(job_id), {"value": value}, ttl)
    return True


def get(store: CacheStore, job_id: str) -> Any:
    """The stored result, or MISSING when none was kept (or it expired)."""
    record = store.get(key(job_id))
    return record["value"] if isinstance(record, dict) and "value" in record else MISSING


def register(manager: QueueManager) -> None:
    """Store results of `store_result` jobs when they complete."""

    def processed(event: JobProcessed) -> None:
        job = event.job
        if getattr(job, "store_result", False) and job.job_id and not job.is_deleted:
            put(manager.cache, job.job_id, event.result, float(getattr(job, "result_ttl", 86400)))

    manager.events.listen(JobProcessed, processed)
