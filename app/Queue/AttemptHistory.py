"""The exception of every failed attempt of a job, so failed_jobs keeps more than the last one.

While a job is retried, each failed attempt's exception text is kept in the cache store
under `job-attempt-errors:<uuid>`. When the job fails for good, `failure_text` puts the
final exception first (its first line stays `Type: message`, which `queue:failed` shows)
and the earlier attempts after it, each under an `=== attempt N ===` line.
"""
from __future__ import annotations

import re
import traceback
from typing import TYPE_CHECKING, Any

from app.Queue.events import JobProcessed, JobReleased

if TYPE_CHECKING:
    from app.Queue.contracts import CacheStore
    from app.Queue.QueueManager import QueueManager

TTL = 7 * 86400
MAX_ATTEMPTS_KEPT = 20
MAX_TEXT = 16_000  # characters of one attempt's exception and trace
ATTEMPT_HEADER = re.compile(r"^=== attempt (\d+) ===$", re.MULTILINE)


def exception_text(exc: BaseException) -> str:
    """Format an exception for failed_jobs: first line `Type: message`, then the traceback."""
    return f"{type(exc).__name__}: {exc}\n" + "".join(traceback.format_exception(exc))


def key(job_id: str) -> str:
    return f"job-attempt-errors:{job_id}"


def record(store: CacheStore, job_id: str, attempt: int, exc: BaseException) -> None:
    """Keep the exception of a failed attempt that will be retried."""
    entries = earlier(store, job_id)
    entries.append({"attempt": int(attempt), "exception": exception_text(exc)[:MAX_TEXT]})
    store.put(key(job_id), entries[-MAX_ATTEMPTS_KEPT:], TTL)


def earlier(store: CacheStore, job_id: str) -> list[dict[str, Any]]:
    """The recorded attempts of a job, oldest first (malformed entries are dropped)."""
    value = store.get(key(job_id))
    if not isinstance(value, list):
        return []
    return [e for e in value if isinstance(e, dict) and isinstance(e.get("exception"), str)]


def failure_text(store: CacheStore, job_id: str, exc: BaseException, attempt: int) -> str:
    """The failed_jobs exception text: the final attempt's, then each earlier one's; forgets the history."""
    text = exception_text(exc)
    if not job_id or attempt <= 1:  # no earlier attempt: skip the store round trip
        return text
    try:
        entries = earlier(store, job_id)
        if entries:
            store.forget(key(job_id))
    except Exception:  # the history is a nicety: a store error must not stop the job being recorded
        return text
    parts = [text] + [f"=== attempt {int(e.get('attempt', 0))} ===\n{e['exception']}"
                      for e in entries if int(e.get("attempt", 0)) != attempt]
    return "\n".join(parts)


def split(text: str) -> list[tuple[int | None, str]]:
    """Split a failed_jobs exception text into (attempt number or None for the final one, text)."""
    headers = list(ATTEMPT_HEADER.finditer(text))
    if not headers:
        return [(None, text)]
    parts: list[tuple[int | None, str]] = [(None, text[:headers[0].start()].rstrip("\n"))]
    for i, match in enumerate(headers):
        end = headers[i + 1].start() if i + 1 < len(headers) else len(text)
        parts.append((int(match.group(1)), text[match.end():end].strip("\n")))
    return parts


def register(manager: QueueManager) -> None:
    """Record released attempts' exceptions; forget them when the job later succeeds."""

    def released(event: JobReleased) -> None:
        if event.exception is not None and event.job is not None and event.job.job_id:
            record(manager.cache, event.job.job_id, event.attempts, event.exception)

    def processed(event: JobProcessed) -> None:
        if event.attempts > 1 and event.job.job_id:
            manager.cache.forget(key(event.job.job_id))

    manager.events.listen(JobReleased, released)
    manager.events.listen(JobProcessed, processed)
