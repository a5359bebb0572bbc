"""Delete failed jobs in chunks, so a large flush shows progress and never holds one long transaction."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from sqlalchemy import delete, func, select

from app.Queue.Database.connection import translate_errors
from app.Queue.Database.tables import failed_jobs
from app.Queue.FailedJobs import DatabaseFailedJobProvider
from app.Queue.Support.time import now

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager

CHUNK = 1000


def _older_than(hours: float | None):  # type: ignore[no-untyped-def]
    return failed_jobs.c.failed_at <= now() - hours * 3600 if hours is not None else True


def count_failed(qm: QueueManager, hours: float | None) -> int:
    """How many failed jobs a flush would delete (0 when the provider cannot tell cheaply)."""
    provider = qm.failed
    if not isinstance(provider, DatabaseFailedJobProvider):
        return 0
    with translate_errors(str(provider.engine.url)), provider.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(failed_jobs).where(_older_than(hours))).scalar_one())


def flush_failed(qm: QueueManager, hours: float | None, advance: Callable[[int], None]) -> int:
    """Delete failed jobs (older than `hours`, or all) CHUNK rows per transaction; returns how many."""
    provider = qm.failed
    if not isinstance(provider, DatabaseFailedJobProvider):
        deleted = provider.flush(hours)  # other providers delete in one call
        advance(deleted)
        return deleted
    engine, total = provider.engine, 0
    with translate_errors(str(engine.url)):
        while True:
            with engine.begin() as conn:
                ids = [r[0] for r in conn.execute(select(failed_jobs.c.id).where(_older_than(hours)).order_by(failed_jobs.c.id).limit(CHUNK))]
                if ids:
                    conn.execute(delete(failed_jobs).where(failed_jobs.c.id.in_(ids)))
            if not ids:
                return total
            total += len(ids)
            advance(len(ids))
