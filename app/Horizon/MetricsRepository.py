"""Throughput and run-time series per minute, per job class or queue, from the `job_metrics` snapshot rows."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from app.Jobs.MetricsStore import BUCKET_SECONDS, Aggregate, minute_of, percentile
from app.Queue.Database.connection import translate_errors
from app.Queue.Database.metrics_tables import job_metrics
from app.Queue.Support.time import now

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager

DEFAULT_MINUTES = 60
MAX_MINUTES = 24 * 60


def _point(bucket: int, agg: Aggregate) -> dict[str, Any]:
    count = agg.processed + agg.failed
    return {
        "t": bucket, "count": count, "failed": agg.failed,
        "avg": round(agg.total_time / count, 6) if count else 0.0,
        "p50": round(min(percentile(agg.histogram, 0.50), agg.max_time), 6) if count else 0.0,
        "p95": round(min(percentile(agg.histogram, 0.95), agg.max_time), 6) if count else 0.0,
    }


class MetricsRepository:
    """Read job_metrics rows (one per job class, queue and minute) into series and totals."""

    def __init__(self, manager: QueueManager, tenant: str | None = None) -> None:
        self.engine = manager.engine()
        self.tenant = tenant  # only this tenant's rows (app/Tenancy); None: every row
        self._read: dict[tuple[int, str | None, str | None], list[Any]] = {}  # rows already read by this instance

    def _rows(self, since: float, job: str | None = None, queue: str | None = None) -> list[Any]:
        key = (minute_of(since), job, queue)
        if key not in self._read:
            self._read[key] = self._query(since, job, queue)
        return self._read[key]

    def finished(self, minutes: int) -> tuple[int, int]:
        """(completed, failed) jobs of the last `minutes`, from the rows of the last hour when they cover it."""
        t = now()
        rows = self._rows(t - (DEFAULT_MINUTES - 1) * BUCKET_SECONDS) if minutes <= DEFAULT_MINUTES else self._rows(t - minutes * 60)
        start = minute_of(t - minutes * 60)
        done = [r for r in rows if int(r.bucket) >= start]
        return sum(int(r.processed) for r in done), sum(int(r.failed) for r in done)

    def _query(self, since: float, job: str | None = None, queue: str | None = None) -> list[Any]:
        query = select(job_metrics).where(job_metrics.c.bucket >= minute_of(since))
        if job:
            query = query.where(job_metrics.c.job == job)
        if queue:
            query = query.where(job_metrics.c.queue == queue)
        if self.tenant is not None:
            query = query.where(job_metrics.c.tenant == self.tenant)
        with translate_errors(str(self.engine.url)), self.engine.connect() as conn:
            return list(conn.execute(query))

    def series(self, minutes: int = DEFAULT_MINUTES, job: str | None = None, queue: str | None = None) -> list[dict[str, Any]]:
        """One point per minute of the window (empty minutes included, so charts keep their time axis)."""
        t = now()
        start = minute_of(t - (minutes - 1) * BUCKET_SECONDS)
        buckets: dict[int, Aggregate] = {b: Aggregate() for b in range(start, minute_of(t) + 1, BUCKET_SECONDS)}
        for row in self._rows(start, job, queue):
            if int(row.bucket) in buckets:
                buckets[int(row.bucket)].merge_row(row)
        return [_point(b, agg) for b, agg in sorted(buckets.items())]

    def totals(self, by: str, minutes: int = DEFAULT_MINUTES) -> list[dict[str, Any]]:
        """Per job class (`by="job"`) or queue (`by="queue"`): count, failed, avg, p50, p95 over the window."""
        groups: dict[str, Aggregate] = {}
        for row in self._rows(now() - (minutes - 1) * BUCKET_SECONDS):
            groups.setdefault(getattr(row, by), Aggregate()).merge_row(row)
        rows = []
        for name, agg in groups.items():
            point = _point(0, agg)
            del point["t"]
            rows.append({"name": name, **point, "per_minute": round(point["count"] / minutes, 2)})
        return sorted(rows, key=lambda r: (-r["count"], r["name"]))
