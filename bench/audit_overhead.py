"""Measure what the audit trail costs: dispatch (bulk) + in-process worker, no-op jobs on SQLite.

Modes (alternated, median of --rounds): `without-audit` (every built-in listener but the trail)
and `with-audit` (all of them, as in production). The trail's writes are batched (QUEUE_AUDIT_BATCH).
Usage: python -m bench.audit_overhead [--jobs 5000] [--rounds 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from typing import Any
from pathlib import Path


def run_once(modules: tuple[Any, ...], jobs: int) -> tuple[float, float]:
    """Dispatch `jobs` no-op jobs in bulk and drain them with one worker; returns jobs per wall and per CPU second."""
    from app.Queue import bootstrap
    from app.Queue.QueueManager import manager
    from app.Queue.Worker import Worker
    from app.Queue.WorkerOptions import WorkerOptions
    from bench.jobs import NoopJob

    bootstrap.REGISTRATIONS = modules
    qm = manager()
    qm.reset()
    start, cpu = time.perf_counter(), time.process_time()
    for offset in range(0, jobs, 1000):
        qm.bulk([NoopJob() for _ in range(min(1000, jobs - offset))], "bench")
    Worker(qm, WorkerOptions(stop_when_empty=True, sleep=0, memory=0)).daemon("database", ["bench"])
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert qm.size("bench") == 0
    return jobs / elapsed, jobs / cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.audit_overhead", description=__doc__)
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
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
        modes = {"without-audit": tuple(m for m in everything if m.__module__ != "app.Audit.AuditTrail"), "with-audit": everything}
        rates: dict[str, list[tuple[float, float]]] = {mode: [] for mode in modes}
        for _ in range(args.rounds):
            for mode, modules in modes.items():
                rates[mode].append(run_once(modules, args.jobs))
        bootstrap.REGISTRATIONS = everything
        print(f"dispatch + run, no-op jobs/s, SQLite, {args.jobs} jobs, median of {args.rounds} (alternating modes):")
        for column, label in ((0, "wall"), (1, "CPU")):
            base = statistics.median(r[column] for r in rates["without-audit"])
            for mode, values in rates.items():
                median = statistics.median(r[column] for r in values)
                print(f"  {label:<4} {mode:<14} median {median:6.0f} jobs/s ({100 * (base - median) / base:+5.1f} % cost)  "
                      f"runs: {', '.join(f'{r[column]:.0f}' for r in values)}")
        manager().reset()
    return 0


if __name__ == "__main__":
    sys.exit(main())
