"""Prometheus metrics read from the store at scrape time (DESIGN.md §9 names).

Gauges (pending, delayed, reserved, failed, oldest wait, workers) are read fresh per scrape.
The counters and the run-time histogram are cumulative in this process: the first scrape
adds up the `job_metrics` rows of the retention window, later scrapes add only what changed
in the rows of the last few minutes (workers update a minute's row in place), so each
scrape reads a handful of rows and the counters never go down while the process lives.
"""
from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from app.Horizon.MastersRepository import MastersRepository
from app.Horizon.StatsRepository import StatsRepository
from app.Jobs.MetricsCollector import retention_hours
from app.Jobs.MetricsStore import BIN_BASE, BIN_FACTOR, minute_of
from app.Queue.Database.connection import translate_errors
from app.Queue.Database.metrics_tables import job_metrics
from app.Queue.Database.tables import failed_jobs
from app.Queue.Support.time import now

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
RECENT_SECONDS = 180  # rows of these minutes are re-read each scrape: workers may still be adding to them


def bucket_index(bin_index: int) -> int:
    """The first Prometheus bucket whose bound holds a MetricsStore bin's upper bound (len(BUCKETS) = +Inf)."""
    upper = BIN_BASE * BIN_FACTOR**bin_index
    for i, bound in enumerate(BUCKETS):
        if upper <= bound * 1.0001:
            return i
    return len(BUCKETS)


@dataclass
class Totals:
    """Cumulative processed/failed counts and run-time histogram of one (queue, job)."""

    processed: int = 0
    failed: int = 0
    seconds: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))


@dataclass
class RowState:
    processed: int
    failed: int
    seconds: float
    histogram: Counter[int]


class QueueCollector(Collector):
    """A prometheus_client collector over the queue store."""

    def __init__(self, manager: QueueManager) -> None:
        self.manager = manager
        self._lock = threading.Lock()
        self._totals: dict[tuple[str, str], Totals] = {}
        self._rows: dict[Any, RowState] = {}
        self._started = False

    def collect(self) -> Iterator[Any]:
        workers = MastersRepository(self.manager).workers()[0]
        workload = StatsRepository(self.manager).workload(workers)
        labels = ["connection", "queue"]
        gauges = {name: GaugeMetricFamily(f"queue_jobs_{name}", f"Jobs {name} per queue", labels=labels)
                  for name in ("pending", "delayed", "reserved")}
        wait = GaugeMetricFamily("queue_oldest_job_wait_seconds", "Seconds the oldest ready job has waited", labels=labels)
        procs = GaugeMetricFamily("queue_workers", "Worker processes taking jobs from the queue", labels=labels)
        for row in workload:
            key = [row["connection"], row["queue"]]
            for name, gauge in gauges.items():
                gauge.add_metric(key, row[name])
            wait.add_metric(key, float(row["wait"] or 0.0))
            procs.add_metric(key, row["processes"])
        yield from gauges.values()
        yield wait
        yield procs
        yield self._failed_gauge()
        yield from self._job_counters()

    def _failed_gauge(self) -> GaugeMetricFamily:
        gauge = GaugeMetricFamily("queue_jobs_failed", "Jobs in the failed jobs store", labels=["connection", "queue"])
        failed = self.manager.failed
        rows: list[Any]
        if hasattr(failed, "engine"):
            query = select(failed_jobs.c.connection, failed_jobs.c.queue, func.count()).group_by(
                failed_jobs.c.queue, failed_jobs.c.connection)  # the order of ix_failed_jobs_queue_connection
            with translate_errors(str(failed.engine.url)), failed.engine.connect() as conn:
                rows = list(conn.execute(query).all())
        else:
            counts = Counter((r.connection, r.queue) for r in failed.all())
            rows = [(c, q, n) for (c, q), n in counts.items()]
        for connection, queue, count in rows:
            gauge.add_metric([str(connection), str(queue)], int(count))
        return gauge

    def _job_counters(self) -> Iterator[Any]:
        with self._lock:
            self._refresh()
            totals = {k: Totals(v.processed, v.failed, v.seconds, list(v.buckets)) for k, v in self._totals.items()}
        processed = CounterMetricFamily("queue_jobs_processed_total", "Jobs completed", labels=["queue", "job"])
        failed = CounterMetricFamily("queue_jobs_failed_total", "Jobs that failed permanently", labels=["queue", "job"])
        runtime = HistogramMetricFamily("queue_job_runtime_seconds", "Run time of finished jobs", labels=["queue", "job"])
        for (queue, job), t in sorted(totals.items()):
            processed.add_metric([queue, job], t.processed)
            failed.add_metric([queue, job], t.failed)
            cumulative, buckets = 0, []
            for bound, n in zip([*map(str, BUCKETS), "+Inf"], t.buckets):
                cumulative += n
                buckets.append((bound, cumulative))
            runtime.add_metric([queue, job], buckets, t.seconds)
        yield processed
        yield failed
        yield runtime

    def _refresh(self) -> None:
        """Add what changed in the recent minute rows (all rows of the retention window on the first scrape)."""
        t = now()
        since = t - retention_hours() * 3600 if not self._started else t - RECENT_SECONDS
        engine = self.manager.engine()
        query = select(job_metrics).where(job_metrics.c.bucket >= minute_of(since))
        with translate_errors(str(engine.url)), engine.connect() as conn:
            rows = conn.execute(query).all()
        self._started = True
        seen = set()
        for row in rows:
            key = (row.job, row.queue, row.tenant, int(row.bucket))  # one row per tenant of a minute: summed below
            seen.add(key)
            state = RowState(int(row.processed), int(row.failed), float(row.total_time),
                             Counter({int(k): int(v) for k, v in json.loads(row.histogram or "{}").items()}))
            before = self._rows.get(key, RowState(0, 0, 0.0, Counter()))
            totals = self._totals.setdefault((str(row.queue), str(row.job)), Totals())
            totals.processed += max(0, state.processed - before.processed)
            totals.failed += max(0, state.failed - before.failed)
            totals.seconds += max(0.0, state.seconds - before.seconds)
            for bin_index, n in state.histogram.items():
                grown = n - before.histogram.get(bin_index, 0)
                if grown > 0:
                    totals.buckets[bucket_index(bin_index)] += grown
            self._rows[key] = state
        self._rows = {k: v for k, v in self._rows.items() if k in seen}
