"""Per-job run time and outcome, recorded by workers and read by `JobMetrics` and the console.

A worker buffers one small sample per finished job in memory and a background thread
writes them, aggregated per job class, queue and minute, at most every FLUSH_INTERVAL
(sooner when MAX_BUFFER samples wait) and when the worker stops. Outside a worker
(the sync connection, `--once`) each sample is written at once. A worker killed with
SIGKILL loses at most its last second of samples, never a job. Metrics live in the
database (table `job_metrics`) whatever the queue connection is, and rows older than
QUEUE_METRICS_RETENTION_HOURS (default 24) are pruned by the writers.
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from app.Jobs.MetricsStore import MetricsStore, Sample, percentile
from app.Queue.events import JobFailed, JobProcessed, WorkerStarting, WorkerStopping
from app.Queue.QueueStats import QueueStats
from app.Queue.Support.time import now
from app.Queue.Support.WorkerScopedFlusher import WorkerScopedFlusher
from app.Queue.QueueManager import manager
from app.Queue.WorkerRegistry import WorkerRegistry
from app.Queue.StoreOutage import is_store_outage

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager

log = logging.getLogger("queue.metrics")

FLUSH_INTERVAL = 1.0
MAX_BUFFER = 500
MAX_UNWRITTEN = 50_000  # samples kept while the database is down; older ones are dropped
PRUNE_INTERVAL = 300.0
THROUGHPUT_MINUTES = 5


def retention_hours() -> float:
    """How long metrics are kept (QUEUE_METRICS_RETENTION_HOURS, default 24)."""
    from config.env import env_float

    return env_float("QUEUE_METRICS_RETENTION_HOURS", 24.0, minimum=0, maximum=24 * 3660)


def metrics_enabled() -> bool:
    from config.env import env_bool

    return env_bool("QUEUE_METRICS", True)


class MetricsCollector(WorkerScopedFlusher):
    """Listens to job events; buffers samples while a worker loop runs in this process."""

    thread_name = "queue-metrics-flush"

    def __init__(self, store: MetricsStore, retention: float) -> None:
        self.store = store
        self.retention = retention
        super().__init__()
        self._buffer: list[Sample] = []
        self._pruned_at = 0.0
        self._warned = False
        self._failing = False

    def register(self, manager: QueueManager) -> None:
        events = manager.events
        events.listen(JobProcessed, self.on_processed, after_ack=True)  # buffers only: may run while the ack is on its way
        events.listen(JobFailed, self.on_failed)
        events.listen(WorkerStarting, self.on_worker_starting)
        events.listen(WorkerStopping, self.on_worker_stopping)

    # -- listeners -------------------------------------------------------------------------
    def on_processed(self, event: JobProcessed) -> None:
        env = event.envelope
        tenant = env.get("tenant")
        self._add(Sample(type(event.job).__name__, str(env.get("queue", "default")), event.runtime, True, now(),
                         "" if tenant is None else str(tenant)))  # _tenant(env), inline: once per job

    def on_failed(self, event: JobFailed) -> None:
        name = type(event.job).__name__ if event.job is not None else str(event.envelope.get("displayName") or "UndecodableJob")
        self._add(Sample(name, str(event.envelope.get("queue", "default")), event.runtime, False, now(),
                         _tenant(event.envelope)))

    # -- buffering ---------------------------------------------------------------------------
    def _add(self, sample: Sample) -> None:
        with self._lock:
            if self._workers > 0:
                self._buffer.append(sample)
                # While the store refuses writes, wait for the next timed flush: waking the
                # flusher on every job would retry a failing write per job and starve the worker.
                if len(self._buffer) >= MAX_BUFFER and not self._failing:
                    self._wake.set()
                return
        self._write([sample])

    def flush(self) -> None:
        """Write the buffered samples now."""
        with self._lock:
            samples, self._buffer = self._buffer, []
        if not samples:
            return
        written = self._write(samples)
        with self._lock:
            self._failing = not written
            if not written:  # keep them for the next flush, within a bound
                self._buffer = (samples + self._buffer)[-MAX_UNWRITTEN:]

    def _flush_loop(self) -> None:
        while True:
            self._wake.wait(FLUSH_INTERVAL)
            self._wake.clear()
            if self._stopping:
                return
            self.flush()

    def _write(self, samples: list[Sample]) -> bool:
        """Store samples and prune old rows now and then; metrics never break job processing."""
        try:
            self.store.record(samples)
            t = time.monotonic()
            if t - self._pruned_at >= PRUNE_INTERVAL:
                self._pruned_at = t
                self.store.prune(now() - self.retention * 3600)
            return True
        except Exception as exc:
            if is_store_outage(exc):  # kept for the next flush; the worker reports the outage once
                return False
            if not self._warned:
                self._warned = True
                log.warning("could not write job metrics (%s); run `python artisan migrate`?", exc)
            return False


def _tenant(envelope: dict[str, Any]) -> str:
    """The tenant a finished job ran for ('' for none), as metrics rows store it."""
    value = envelope.get("tenant")
    return "" if value is None else str(value)


@dataclass(frozen=True, slots=True)
class JobMetricsSnapshot:
    """Metrics of one job class over a window: run times in seconds, success_rate in 0..1."""

    name: str
    count: int
    processed: int
    failed: int
    avg_execution_time: float
    p95: float
    max_execution_time: float
    success_rate: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class QueueMetrics(QueueStats):
    """Live counts of one queue plus its recent throughput and how long its oldest ready job has waited."""

    throughput_per_minute: float
    oldest_wait: float | None


class JobMetrics:
    """Read metrics shared by all processes (seed API: `JobMetrics.get_job_metrics("SendEmailJob")`)."""

    @staticmethod
    def get_job_metrics(name: str, minutes: float | None = None, tenant: str | None = None) -> JobMetricsSnapshot:
        """Count, average and p95 run time and success rate of a job class over the retention window (of one tenant)."""
        store, since = _reader(minutes)
        return snapshot(name, store.summary(since, job=name, tenant=tenant))

    @staticmethod
    def all_job_metrics(minutes: float | None = None, tenant: str | None = None) -> list[JobMetricsSnapshot]:
        """Metrics of every job class seen in the window (of one tenant when given), busiest first."""
        store, since = _reader(minutes)
        rows = [snapshot(name, agg) for name, agg in store.by_job(since, tenant).items()]
        return sorted(rows, key=lambda m: (-m.count, m.name))

    @staticmethod
    def workers() -> list[dict[str, Any]]:
        """Live workers from their heartbeats: id, pid, queues, jobs done and failed, `memory_mb` (RSS at the last
        heartbeat, once a second) and `peak_memory_mb`."""
        return _workers()

    @staticmethod
    def get_queue_stats(queue: str = "default", connection: str | None = None) -> QueueMetrics:
        """Pending, delayed, reserved and failed counts, throughput per minute (last 5 minutes) and oldest wait."""
        qm = manager()
        stats = qm.get_stats(queue, connection)
        store, _ = _reader(None)
        finished = store.finished(now() - THROUGHPUT_MINUTES * 60, stats.queue)
        return QueueMetrics(stats.queue, stats.connection, stats.pending, stats.delayed, stats.reserved, stats.failed,
                            finished / THROUGHPUT_MINUTES, oldest_wait(qm, stats.connection, stats.queue))


def _workers() -> list[dict[str, Any]]:
    live, _gone = WorkerRegistry(manager().cache).workers()
    return live


def snapshot(name: str, agg: Any) -> JobMetricsSnapshot:
    count = agg.processed + agg.failed
    return JobMetricsSnapshot(
        name=name, count=count, processed=agg.processed, failed=agg.failed,
        avg_execution_time=agg.total_time / count if count else 0.0,
        p95=min(percentile(agg.histogram, 0.95), agg.max_time) if count else 0.0,
        max_execution_time=agg.max_time,
        success_rate=agg.processed / count if count else 0.0,
    )


def oldest_wait(qm: QueueManager, connection: str, queue: str) -> float | None:
    """Seconds the oldest ready job of a database queue has waited (None on other drivers or when empty)."""
    from sqlalchemy import func, select

    # lazy: SQLAlchemy only when a database queue is asked (an idle Redis worker loads none)
    from app.Queue.Database.connection import translate_errors
    from app.Queue.Database.tables import jobs
    from app.Queue.Drivers.DatabaseQueue import DatabaseQueue

    driver = qm.connection(connection)
    if not isinstance(driver, DatabaseQueue):
        return None
    t = int(now())
    query = select(func.min(jobs.c.available_at)).where(
        jobs.c.queue == queue, jobs.c.reserved_at.is_(None), jobs.c.available_at <= t)
    with translate_errors(str(driver.engine.url)), driver.engine.connect() as conn:
        oldest = conn.execute(query).scalar()
    return max(0.0, now() - float(oldest)) if oldest is not None else None


def _reader(minutes: float | None) -> tuple[MetricsStore, float]:
    """The store to read (after flushing this process's buffer) and the window's start."""
    qm = manager()
    qm.config  # boot: registers this process's collector
    collector = getattr(qm, "metrics", None)
    if isinstance(collector, MetricsCollector):
        collector.flush()
    hours = retention_hours()
    window = minutes * 60 if minutes is not None else hours * 3600
    return MetricsStore(qm.engine()), now() - min(window, hours * 3600)


def register(manager: QueueManager) -> None:
    """Record metrics for jobs run in this process (bootstrap REGISTRATIONS)."""
    if not metrics_enabled():
        manager.metrics = None
        return
    collector = MetricsCollector(MetricsStore(manager.engine), retention_hours())  # engine made at the first write
    collector.register(manager)
    manager.metrics = collector
