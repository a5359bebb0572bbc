"""Job run-time metrics in the `job_metrics` table: one row per job class, queue, tenant and minute.

Each row holds counts, total and maximum run time, and a histogram of run times in
logarithmic bins (each bin 25 % wider than the one before), so p95 over any window
is a merge of small dicts, accurate to about ±12 %, without storing every duration.
"""
from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, NamedTuple

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

# SQLAlchemy (~13 MB resident) and the table are imported by the methods that touch the
# database, so a worker at rest on Redis, whose collector has written nothing yet, does not load them.

BIN_BASE = 0.0001  # seconds: bin 0 holds everything up to 0.1 ms
BIN_FACTOR = 1.25
MAX_BIN = 110  # 0.1 ms * 1.25**110 is about 5 days: longer runs share the last bin
BUCKET_SECONDS = 60
_LOG_FACTOR = math.log(BIN_FACTOR)


def bin_of(seconds: float) -> int:
    """Histogram bin of a run time: bin i holds (BASE*F**(i-1), BASE*F**i]."""
    if seconds <= BIN_BASE:
        return 0
    return min(MAX_BIN, math.ceil(math.log(seconds / BIN_BASE) / _LOG_FACTOR - 1e-9))


def bin_value(index: int) -> float:
    """A representative run time of a bin (the geometric middle of its bounds)."""
    if index <= 0:
        return BIN_BASE / 2
    upper = BIN_BASE * BIN_FACTOR**index
    return upper / math.sqrt(BIN_FACTOR)


def percentile(histogram: dict[int, int], fraction: float) -> float:
    """Estimate the run time below which `fraction` of the samples fall."""
    total = sum(histogram.values())
    if total == 0:
        return 0.0
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen >= rank:
            return bin_value(index)
    return bin_value(max(histogram))


def minute_of(t: float) -> int:
    return int(t // BUCKET_SECONDS) * BUCKET_SECONDS


class Sample(NamedTuple):
    """One finished job: its class name, queue, run time in seconds, outcome, finish time and tenant ('' for none).

    A tuple: a worker makes one per job, and a frozen dataclass costs three times as much to build.
    """

    job: str
    queue: str
    runtime: float
    ok: bool
    at: float
    tenant: str = ""


@dataclass(slots=True)
class Aggregate:
    """Counts for one (job, queue, tenant, minute)."""

    processed: int = 0
    failed: int = 0
    total_time: float = 0.0
    max_time: float = 0.0
    histogram: Counter[int] = field(default_factory=Counter)

    def add(self, sample: Sample) -> None:
        if sample.ok:
            self.processed += 1
        else:
            self.failed += 1
        self.total_time += sample.runtime
        self.max_time = max(self.max_time, sample.runtime)
        self.histogram[bin_of(sample.runtime)] += 1

    def copy(self) -> Aggregate:
        return Aggregate(self.processed, self.failed, self.total_time, self.max_time, Counter(self.histogram))

    def merge_row(self, row: Any) -> None:
        self.processed += int(row.processed)
        self.failed += int(row.failed)
        self.total_time += float(row.total_time)
        self.max_time = max(self.max_time, float(row.max_time))
        self.histogram.update({int(k): int(v) for k, v in json.loads(row.histogram).items()})


def aggregate(samples: Iterable[Sample]) -> dict[tuple[str, str, str, int], Aggregate]:
    """Group samples by (job, queue, tenant, minute).

    Each group's counts are made from its samples at once (sum, max, Counter), as Aggregate.add
    would make them one sample at a time: a flush of a busy worker aggregates thousands.
    """
    grouped: dict[tuple[str, str, str, int], list[Sample]] = {}
    for s in samples:
        key = (s.job[:191], s.queue[:191], s.tenant[:191], int(s.at // BUCKET_SECONDS) * BUCKET_SECONDS)  # minute_of
        members = grouped.get(key)
        if members is None:
            grouped[key] = [s]
        else:
            members.append(s)
    groups: dict[tuple[str, str, str, int], Aggregate] = {}
    for key, members in grouped.items():
        runtimes = [s.runtime for s in members]
        processed = sum(1 for s in members if s.ok)
        groups[key] = Aggregate(processed, len(members) - processed, sum(runtimes, 0.0), max(0.0, *runtimes),
                                Counter(map(bin_of, runtimes)))
    return groups


class MetricsStore:
    """Write aggregated samples and read them back, over SQLAlchemy Core."""

    def __init__(self, engine: Engine | Callable[[], Engine]) -> None:
        self._engine: Any = engine  # or a callable that makes it on first use

    @property
    def engine(self) -> Engine:
        if callable(self._engine) and not hasattr(self._engine, "url"):
            self._engine = self._engine()
        return self._engine  # type: ignore[no-any-return]

    @property
    def _url(self) -> str:
        return str(self.engine.url)

    def record(self, samples: Iterable[Sample]) -> None:
        """Add samples to their minute rows, in one transaction (retried if two writers insert the same row)."""
        groups = aggregate(samples)
        if not groups:
            return
        from sqlalchemy.exc import IntegrityError, OperationalError

        # lazy: SQLAlchemy only when metrics are written or read (an idle Redis worker loads none)
        from app.Queue.Database.connection import retryable_code, translate_errors

        with translate_errors(self._url):
            for attempt in range(5):
                try:
                    with self.engine.begin() as conn:
                        for key in sorted(groups):  # one lock order for every writer: fewer deadlocks
                            self._merge(conn, key, groups[key])
                    return
                except (IntegrityError, OperationalError) as exc:
                    # two writers created the same row, the server chose us as a deadlock victim, or it
                    # restarted under us (the pool reconnects): retry
                    if attempt == 4 or (isinstance(exc, OperationalError) and retryable_code(exc) is None
                                        and not exc.connection_invalidated):
                        raise

    @staticmethod
    def _merge(conn: Connection, key: tuple[str, str, str, int], new: Aggregate) -> None:
        from sqlalchemy import and_, select, update

        # lazy: SQLAlchemy only when metrics are written or read (an idle Redis worker loads none)
        from app.Queue.Database.metrics_tables import job_metrics

        job, queue, tenant, bucket = key
        agg = new.copy()  # a retried transaction must start from the samples alone
        where = and_(job_metrics.c.job == job, job_metrics.c.queue == queue, job_metrics.c.tenant == tenant,
                     job_metrics.c.bucket == bucket)
        query = select(job_metrics).where(where)
        if conn.dialect.name != "sqlite":
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is not None:
            agg.merge_row(row)
        values = dict(processed=agg.processed, failed=agg.failed, total_time=agg.total_time, max_time=agg.max_time,
                      histogram=json.dumps({str(k): v for k, v in sorted(agg.histogram.items())}))
        if row is None:
            conn.execute(job_metrics.insert().values(job=job, queue=queue, tenant=tenant, bucket=bucket, **values))
        else:
            conn.execute(update(job_metrics).where(job_metrics.c.id == row.id).values(**values))

    def prune(self, before: float) -> int:
        """Delete rows of minutes that started before `before` (unix seconds)."""
        from sqlalchemy import delete

        # lazy: SQLAlchemy only when metrics are written or read (an idle Redis worker loads none)
        from app.Queue.Database.connection import translate_errors
        from app.Queue.Database.metrics_tables import job_metrics

        with translate_errors(self._url), self.engine.begin() as conn:
            return conn.execute(delete(job_metrics).where(job_metrics.c.bucket < minute_of(before))).rowcount

    def forget_tenant(self, tenant: str) -> int:
        """Delete every row of `tenant` (queue:forget-tenant); returns how many went."""
        from sqlalchemy import delete

        # lazy: SQLAlchemy only when metrics are written or read (an idle Redis worker loads none)
        from app.Queue.Database.connection import translate_errors
        from app.Queue.Database.metrics_tables import job_metrics

        with translate_errors(self._url), self.engine.begin() as conn:
            return int(conn.execute(delete(job_metrics).where(job_metrics.c.tenant == tenant)).rowcount or 0)

    def summary(self, since: float, job: str | None = None, queue: str | None = None,
                tenant: str | None = None) -> Aggregate:
        """Merge every row since `since` (optionally of one job class, queue and/or tenant)."""
        total = Aggregate()
        for row in self._rows(since, job, queue, tenant):
            total.merge_row(row)
        return total

    def by_job(self, since: float, tenant: str | None = None) -> dict[str, Aggregate]:
        """Merge rows since `since` per job class (optionally of one tenant only)."""
        result: dict[str, Aggregate] = {}
        for row in self._rows(since, None, None, tenant):
            result.setdefault(row.job, Aggregate()).merge_row(row)
        return result

    def finished(self, since: float, queue: str, tenant: str | None = None) -> int:
        """Count jobs of `queue` (optionally of one tenant) finished (completed or failed) since `since`."""
        from sqlalchemy import func, select

        # lazy: SQLAlchemy only when metrics are written or read (an idle Redis worker loads none)
        from app.Queue.Database.connection import translate_errors
        from app.Queue.Database.metrics_tables import job_metrics

        query = (select(func.coalesce(func.sum(job_metrics.c.processed + job_metrics.c.failed), 0))
                 .where(job_metrics.c.queue == queue, job_metrics.c.bucket >= minute_of(since)))
        if tenant is not None:
            query = query.where(job_metrics.c.tenant == tenant)
        with translate_errors(self._url), self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def _rows(self, since: float, job: str | None, queue: str | None, tenant: str | None = None) -> list[Any]:
        from sqlalchemy import select

        # lazy: SQLAlchemy only when metrics are written or read (an idle Redis worker loads none)
        from app.Queue.Database.connection import translate_errors
        from app.Queue.Database.metrics_tables import job_metrics

        query = select(job_metrics).where(job_metrics.c.bucket >= minute_of(since))
        if job is not None:
            query = query.where(job_metrics.c.job == job)
        if queue is not None:
            query = query.where(job_metrics.c.queue == queue)
        if tenant is not None:
            query = query.where(job_metrics.c.tenant == tenant)
        with translate_errors(self._url), self.engine.connect() as conn:
            return list(conn.execute(query))
