"""Measure what metrics and worker heartbeats cost: no-op jobs/s of an in-process worker on SQLite.

Modes (alternated, median of --rounds): `bare` (no listeners), `metrics` (MetricsCollector),
`metrics+heartbeats` (everything bootstrap registers). Usage: python -m bench.metrics_overhead [--jobs 5000]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

from bench.overhead import run_once, sqlite_store

MODES = {
    "bare": (),
    "metrics": ("app.Jobs.MetricsCollector",),
    "metrics+heartbeats": ("app.Jobs.MetricsCollector", "app.Queue.WorkerRegistry"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.metrics_overhead", description=__doc__)
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with sqlite_store("bench-metrics-") as everything:
        modes = {mode: tuple(r for r in everything if r.__module__ in names) for mode, names in MODES.items()}
        rates: dict[str, list[tuple[float, float]]] = {mode: [] for mode in MODES}
        for _ in range(args.rounds):
            for mode, modules in modes.items():
                rates[mode].append(run_once(modules, args.jobs, time_dispatch=False))
        print_results(rates, args)
    return 0


def print_results(rates: dict[str, list[tuple[float, float]]], args: argparse.Namespace) -> None:
    print(f"no-op jobs/s, in-process worker, SQLite, {args.jobs} jobs, median of {args.rounds} (alternating modes):")
    for column, label in ((0, "wall"), (1, "CPU")):
        base = statistics.median(r[column] for r in rates["bare"])
        best_base = max(r[column] for r in rates["bare"])
        for mode, values in rates.items():
            median, best = statistics.median(r[column] for r in values), max(r[column] for r in values)
            print(f"  {label:<4} {mode:<20} median {median:6.0f} jobs/s ({100 * (base - median) / base:+5.1f} %)  "
                  f"best {best:6.0f} ({100 * (best_base - best) / best_base:+5.1f} %)  "
                  f"runs: {', '.join(f'{r[column]:.0f}' for r in values)}")
    print(f"  listener cost per finished job (metrics + heartbeat state): {listener_cost_us():.1f} us")


def listener_cost_us(n: int = 20_000) -> float:
    """Time the work the worker thread does per job for metrics and heartbeats (the writes happen on other threads)."""
    from app.Jobs.MetricsCollector import MetricsCollector
    from app.Jobs.MetricsStore import MetricsStore
    from app.Queue.events import JobProcessed, JobProcessing, WorkerStarting, WorkerStopping
    from app.Queue.QueueManager import manager
    from app.Queue.WorkerRegistry import WorkerMonitor, WorkerRegistry
    from bench.jobs import NoopJob

    qm = manager()
    collector = MetricsCollector(MetricsStore(qm.engine()), 24)
    monitor = WorkerMonitor(lambda: WorkerRegistry(qm.cache))
    started = WorkerStarting("bench", "bench", "database", ("bench",))
    collector.on_worker_starting(started)
    monitor.on_worker_starting(started)
    job, envelope = NoopJob(), {"queue": "bench", "uuid": "u"}
    t = time.perf_counter()
    for _ in range(n):
        monitor.on_job_processing(JobProcessing(job, envelope, 1))
        done = JobProcessed(job, envelope, 1, 0.001)
        collector.on_processed(done)
        monitor.on_job_processed(done)
    cost = (time.perf_counter() - t) / n * 1e6
    monitor.on_worker_stopping(WorkerStopping(0, "bench"))
    collector.on_worker_stopping(WorkerStopping(0, "bench"))
    return cost


if __name__ == "__main__":
    sys.exit(main())
