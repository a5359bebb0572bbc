"""Metrics graphs from `horizon:snapshot` snapshots, as Horizon's metrics pages draw them.

The scheduler takes a snapshot every 5 minutes (app/Horizon/MetricsSnapshot.py); each holds,
per job class and per `connection:queue`, the throughput (jobs per minute) and run times
(average, p50, p95) of the minutes since the previous one. A series is one point per stored
snapshot, oldest first. A queue worked on several connections, or all queues together, is
summed: throughput adds up, average and p50 are weighted by throughput, p95 is the highest.
"""
from __future__ import annotations

from typing import Any, Iterable

from app.Horizon.MetricsSnapshot import read_snapshots
from app.Queue.contracts import CacheStore


def _combine(taken_at: float, entries: list[dict[str, Any]]) -> dict[str, Any]:
    throughput = sum(e["throughput"] for e in entries)

    def weighted(name: str) -> float:
        return sum(e[name] * e["throughput"] for e in entries) / throughput if throughput else 0.0

    return {"t": taken_at, "throughput": round(throughput, 3), "avg": round(weighted("runtime_avg"), 6),
            "p50": round(weighted("runtime_p50"), 6),
            "p95": round(max((e["runtime_p95"] for e in entries if e["throughput"]), default=0.0), 6)}


def _entries(snapshot: dict[str, Any], job: str | None, queue: str | None) -> list[dict[str, Any]]:
    if job:
        found = snapshot["jobs"].get(job)
        return [found] if found else []
    queues: Iterable[tuple[str, dict[str, Any]]] = snapshot["queues"].items()
    if queue:
        return [v for k, v in queues if queue in (k, v["queue"])]
    return [v for _, v in queues]


def snapshot_series(cache: CacheStore, job: str | None = None, queue: str | None = None) -> list[dict[str, Any]]:
    """One point per snapshot (t, throughput per minute, avg, p50, p95) of a job class, a queue, or every queue."""
    return [_combine(s["taken_at"], _entries(s, job, queue)) for s in read_snapshots(cache)]


def latest_subjects(cache: CacheStore) -> dict[str, list[dict[str, Any]]]:
    """The job classes and queues of the newest snapshot, with their numbers (the metrics page's lists)."""
    snapshots = read_snapshots(cache)
    if not snapshots:
        return {"jobs": [], "queues": []}
    newest = snapshots[-1]
    jobs = [{"name": name, **_combine(newest["taken_at"], [v])} for name, v in sorted(newest["jobs"].items())]
    queues = [{"name": key, **_combine(newest["taken_at"], [v])} for key, v in sorted(newest["queues"].items())]
    return {"jobs": jobs, "queues": queues}
