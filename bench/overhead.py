"""What the overhead benchmarks (bench.metrics_overhead, bench.audit_overhead) share: a throwaway migrated
SQLite store, and one timed round of no-op jobs drained by an in-process worker with a chosen set of listeners."""
from __future__ import annotations

import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


@contextmanager
def sqlite_store(prefix: str) -> Iterator[tuple[Any, ...]]:
    """Point the app at a fresh migrated SQLite file; yields every registration bootstrap wires (restored after)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        from bench.__main__ import base_env

        os.environ.update(base_env(Path(tmp)))
        from app.Queue import bootstrap
        from app.Queue.Database import migrator
        from app.Queue.QueueManager import manager
        from config import env as env_mod

        env_mod.reload()
        manager().reset()
        migrator.upgrade(manager().engine())
        everything = bootstrap.REGISTRATIONS
        try:
            yield everything
        finally:
            bootstrap.REGISTRATIONS = everything
            manager().reset()


def run_once(registrations: tuple[Any, ...], jobs: int, time_dispatch: bool) -> tuple[float, float]:
    """Bulk-dispatch `jobs` no-op jobs and drain them with one worker, only `registrations` listening; returns
    (jobs per wall second, per CPU second), timing the dispatch too when `time_dispatch` (CPU includes flush threads)."""
    from app.Queue import bootstrap
    from app.Queue.QueueManager import manager
    from app.Queue.Worker import Worker
    from app.Queue.WorkerOptions import WorkerOptions
    from bench.jobs import NoopJob

    bootstrap.REGISTRATIONS = registrations
    qm = manager()
    qm.reset()
    start, cpu = time.perf_counter(), time.process_time()
    for offset in range(0, jobs, 1000):
        qm.bulk([NoopJob() for _ in range(min(1000, jobs - offset))], "bench")
    if not time_dispatch:
        start, cpu = time.perf_counter(), time.process_time()
    Worker(qm, WorkerOptions(stop_when_empty=True, sleep=0, memory=0)).daemon("database", ["bench"])
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert qm.size("bench") == 0
    return jobs / elapsed, jobs / cpu
