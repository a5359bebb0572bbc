"""Metrics snapshots for the dashboard's graphs, taken by `horizon:snapshot` (the scheduler runs it every 5 minutes).

Storage: one cache-store key, SNAPSHOTS_KEY = "horizon:snapshots", holding a JSON list of
snapshots, oldest first, trimmed to `metrics.trim_snapshots` entries (config/horizon.py,
default 24). One snapshot:

    {"taken_at": unix seconds, "window": seconds covered,
     "queues": {"<connection>:<queue>": {"connection", "queue", "throughput" (jobs/min),
                "runtime_avg", "runtime_p50", "runtime_p95" (seconds), "pending", "delayed",
                "reserved", "processes", "wait" (estimated seconds to clear)}},
     "jobs": {"<job class>": {"throughput", "runtime_avg", "runtime_p50", "runtime_p95",
              "processed", "failed"}}}

Readers: `read_snapshots(cache)` (every valid snapshot, oldest first; malformed entries from the
shared store are dropped) and `latest_snapshot(cache)`.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Iterable

from app.Jobs.MetricsStore import Aggregate, MetricsStore, minute_of, percentile
from app.Queue.contracts import CacheStore
from app.Queue.Support.time import now

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager

SNAPSHOTS_KEY = "horizon:snapshots"
DEFAULT_WINDOW = 300.0
MIN_WINDOW, MAX_WINDOW = 60.0, 3600.0
QUEUE_FIELDS = ("throughput", "runtime_avg", "runtime_p50", "runtime_p95", "pending", "delayed", "reserved", "processes", "wait")
JOB_FIELDS = ("throughput", "runtime_avg", "runtime_p50", "runtime_p95", "processed", "failed")


def _numbers(value: Any, fields: Iterable[str]) -> dict[str, float] | None:
    if not isinstance(value, dict):
        return None
    out: dict[str, float] = {}
    for name in fields:
        v = value.get(name)
        if v is None:
            out[name] = 0.0
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            out[name] = float(v)
        else:
            return None
    return out


def _valid(snapshot: Any) -> dict[str, Any] | None:
    """A snapshot as written by take_snapshot, or None (the store is shared: nothing read is trusted)."""
    if not isinstance(snapshot, dict) or not isinstance(snapshot.get("taken_at"), (int, float)):
        return None
    queues, jobs = snapshot.get("queues"), snapshot.get("jobs")
    if not isinstance(queues, dict) or not isinstance(jobs, dict):
        return None
    clean_queues = {}
    for key, value in queues.items():
        numbers = _numbers(value, QUEUE_FIELDS)
        if numbers is not None and isinstance(value.get("queue"), str) and isinstance(value.get("connection"), str):
            clean_queues[str(key)] = {"connection": value["connection"], "queue": value["queue"], **numbers}
    clean_jobs = {str(k): n for k, v in jobs.items() if (n := _numbers(v, JOB_FIELDS)) is not None}
    window = snapshot.get("window")
    return {"taken_at": float(snapshot["taken_at"]),
            "window": float(window) if isinstance(window, (int, float)) else DEFAULT_WINDOW,
            "queues": clean_queues, "jobs": clean_jobs}


def read_snapshots(cache: CacheStore) -> list[dict[str, Any]]:
    """Every stored snapshot, oldest first (the dashboard's metrics graphs)."""
    raw = cache.get(SNAPSHOTS_KEY)
    if not isinstance(raw, list):
        return []
    return [s for s in (_valid(item) for item in raw) if s is not None]


def latest_snapshot(cache: CacheStore) -> dict[str, Any] | None:
    """The newest snapshot, or None before the first."""
    snapshots = read_snapshots(cache)
    return snapshots[-1] if snapshots else None


def _runtimes(agg: Aggregate, minutes: float) -> dict[str, float]:
    count = agg.processed + agg.failed
    return {
        "throughput": count / minutes,
        "runtime_avg": agg.total_time / count if count else 0.0,
        "runtime_p50": min(percentile(agg.histogram, 0.50), agg.max_time) if count else 0.0,
        "runtime_p95": min(percentile(agg.histogram, 0.95), agg.max_time) if count else 0.0,
    }


def _metric_queues(store: MetricsStore, since: float) -> set[str]:
    from sqlalchemy import select

    # lazy: SQLAlchemy only when snapshots are read from the database
    from app.Queue.Database.metrics_tables import job_metrics

    query = select(job_metrics.c.queue).where(job_metrics.c.bucket >= minute_of(since)).distinct()
    with store.engine.connect() as conn:
        return {str(row[0]) for row in conn.execute(query)}


def _watched_queues(qm: QueueManager, masters: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """(connection, queue) -> processes working it, from the live masters' records."""
    watched: dict[tuple[str, str], int] = {}
    for master in masters:
        for sup in master.get("supervisors", []):
            if not isinstance(sup, dict) or not isinstance(sup.get("connection"), str):
                continue
            processes = sup.get("processes")
            processes = processes if isinstance(processes, dict) else {}
            queues = sup.get("queues")
            queues = queues if isinstance(queues, list) else []
            for queue in queues:
                if isinstance(queue, str):
                    count = processes.get(queue, processes.get("*", 0))
                    key = (sup["connection"], queue)
                    watched[key] = watched.get(key, 0) + (count if isinstance(count, int) else 0)
    return watched


def take_snapshot(qm: QueueManager, masters: list[dict[str, Any]], kept: int) -> dict[str, Any]:
    """Measure every queue (of running supervisors, or seen in metrics) and job class, store it, trim the history."""
    store = MetricsStore(qm.engine())
    previous = latest_snapshot(qm.cache)
    t = now()
    window = t - previous["taken_at"] if previous else DEFAULT_WINDOW
    window = min(MAX_WINDOW, max(MIN_WINDOW, window))
    since, minutes = t - window, window / 60
    watched = _watched_queues(qm, masters)
    for queue in _metric_queues(store, since):
        if not any(q == queue for _, q in watched):
            definition = qm.definitions.get(queue)
            watched[((definition.connection if definition else None) or qm.default_connection, queue)] = 0
    queues: dict[str, Any] = {}
    for (connection, queue), processes in sorted(watched.items()):
        sizes = qm.connection(connection).sizes(queue)
        times = _runtimes(store.summary(since, queue=queue), minutes)
        wait = (sizes.pending * times["runtime_avg"]) / max(1, processes)
        queues[f"{connection}:{queue}"] = {"connection": connection, "queue": queue, **times, "pending": sizes.pending,
                                           "delayed": sizes.delayed, "reserved": sizes.reserved,
                                           "processes": processes, "wait": wait}
    jobs = {name: {**_runtimes(agg, minutes), "processed": agg.processed, "failed": agg.failed}
            for name, agg in sorted(store.by_job(since).items())}
    snapshot = {"taken_at": t, "window": window, "queues": queues, "jobs": jobs}
    history = read_snapshots(qm.cache) + [snapshot]
    qm.cache.put(SNAPSHOTS_KEY, history[-max(1, kept):])
    return snapshot
