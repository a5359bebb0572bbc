"""`make bench` rows for `queue:work --concurrency`: I/O-bound jobs (20 ms each) and worker RSS.

- io20 c=32: `def handle` jobs that sleep 20 ms, one worker with --concurrency=32 (ideal 1,600/s);
- io20 async c=500: `async def handle` jobs that await 20 ms, --concurrency=500 (ideal 25,000/s);
- RSS with --concurrency=32: at rest (idle, 3 s after start) and after 1k and N no-op jobs.
What bounds the I/O rows: on Redis each slot claims, runs and acks its own jobs
(app/Queue/Concurrency/ClaimingWorker.py), so no serial main-thread step remains; a slot's
cycle is the job plus its ack-and-claim round trip, each stretched by waits for the GIL that
grow with the process's CPU per job. Async jobs at c=500 are bound by CPU per job (one core's
worth of Python). On databases the main thread still reserves for every slot.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from app.Queue.QueueManager import QueueManager
from bench.harness import measure_processing, rss_of, start_worker, stop_worker


@dataclass
class ConcurrencyRows:
    """Steady jobs/s of the concurrency rows and the concurrent worker's RSS (MB) by jobs done (0: at rest)."""

    io_threads_per_s: float | None = None
    io_async_per_s: float | None = None
    rss_mb: dict[int, float] = field(default_factory=dict)


def _fill(qm: QueueManager, connection: str, job_class: Any, n: int) -> None:
    for offset in range(0, n, 1000):
        qm.bulk([job_class() for _ in range(min(1000, n - offset))], "bench", connection)


def measure_concurrency(qm: QueueManager, connection: str, env: dict[str, str], worker_args: list[str],
                        sizes: dict[str, int], rss_jobs: int) -> ConcurrencyRows:
    """Measure the rows on one driver (the queue `bench` must be empty)."""
    from bench.jobs import AsyncIoJob, IoJob

    rows = ConcurrencyRows()
    driver = qm.connection(connection)
    io_n, async_n = sizes.get("io", 6_000), sizes.get("io_async", 30_000)
    _, rows.io_threads_per_s, _ = measure_processing(
        qm, connection, env, io_n, worker_args=[*worker_args, "--concurrency=32"], fill_with=lambda n: _fill(qm, connection, IoJob, n))
    driver.clear("bench")
    _, rows.io_async_per_s, _ = measure_processing(
        qm, connection, env, async_n, worker_args=[*worker_args, "--concurrency=500"],
        fill_with=lambda n: _fill(qm, connection, AsyncIoJob, n))
    driver.clear("bench")
    proc = start_worker(connection, env, [*worker_args, "--concurrency=32"])
    try:
        time.sleep(3.0)
        rows.rss_mb[0] = rss_of(proc.pid)
    finally:
        stop_worker(proc)
    _, _, rss = measure_processing(qm, connection, env, rss_jobs, (1_000, rss_jobs), [*worker_args, "--concurrency=32"])
    rows.rss_mb.update(rss)
    driver.clear("bench")
    return rows
