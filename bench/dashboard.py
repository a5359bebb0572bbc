"""Dashboard speed at scale, and what recording completed jobs costs a worker.

1. `overhead`: no-op jobs/s of an in-process SQLite worker with every listener bootstrap
   registers, with and without app.Horizon.CompletedJobRecorder (alternated, median of --rounds).
2. latency at scale (bench/dashboard_latency.py): on each of --latency-drivers, a store with
   --jobs waiting jobs (default 1,000,000) and --failed failed jobs (default 100,000); every
   dashboard page, API list and /metrics timed, wall and CPU ms. Budgets: pages and API lists
   <= 200 ms, /metrics <= 100 ms.

Usage: python -m bench.dashboard [--jobs N] [--failed N] [--latency-drivers sqlite,redis] [--skip-overhead] [--skip-latency]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

PAGE_BUDGET_MS, METRICS_BUDGET_MS = 200.0, 100.0
QUEUES = ("default", "emails", "reports", "webhooks")
CLASSES = ("SendEmailJob", "GenerateReportJob", "SyncAccountJob", "ResizeImageJob", "ChargeCardJob")


def setup_env(tmp: Path) -> None:
    from bench.__main__ import base_env

    os.environ.update(base_env(tmp))
    os.environ["APP_ENV"] = "local"
    from app.Queue.Database import migrator
    from app.Queue.QueueManager import manager
    from config import env as env_mod

    env_mod.reload()
    manager().reset()
    migrator.upgrade(manager().engine())


# -- 1. recording overhead ---------------------------------------------------------------------
def overhead(jobs: int, rounds: int) -> dict[str, float]:
    """Throughput with and without the recorder; judged on CPU seconds per job (wall time swings with other load)."""
    from app.Queue import bootstrap
    from bench.metrics_overhead import run_once

    everything = bootstrap.REGISTRATIONS
    modes = {"without completed recording": tuple(m for m in everything if m.__module__ != "app.Horizon.CompletedJobRecorder"),
             "with completed recording": everything}
    rates: dict[str, list[tuple[float, float]]] = {m: [] for m in modes}
    for _ in range(rounds):
        for mode, modules in modes.items():
            rates[mode].append(run_once(modules, jobs))
    bootstrap.REGISTRATIONS = everything
    print(f"completed-job recording, no-op jobs/s, in-process SQLite worker, {jobs} jobs, median of {rounds} "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs):")
    medians: dict[str, float] = {}
    for column, label in ((0, "wall"), (1, "CPU")):
        base = statistics.median(r[column] for r in rates["without completed recording"])
        for mode, values in rates.items():
            median = statistics.median(r[column] for r in values)
            medians[f"{label} {mode}"] = median
            print(f"  {label:<4} {mode:<28} {median:7.0f} jobs/s ({100 * (median - base) / base:+5.1f} %)  "
                  f"runs: {', '.join(f'{r[column]:.0f}' for r in values)}")
    base, recorded = medians["CPU without completed recording"], medians["CPU with completed recording"]
    cost = 100 * (base - recorded) / base
    print(f"  -> recording costs {cost:.1f} % of throughput per CPU second (budget 10 %): {'OK' if cost <= 10 else 'OVER BUDGET'}")
    return medians


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _drain(connection: str, env: dict[str, str], jobs: int, args: list[str]) -> tuple[float, float]:
    """Fill the bench queue, start one worker process, wait until it is empty: (jobs per wall second, per worker CPU second)."""
    from app.Queue.QueueManager import manager
    from bench.harness import fill, start_worker, stop_worker

    qm = manager()
    fill(qm, connection, jobs)
    proc = start_worker(connection, env, args)
    started = time.perf_counter()
    try:
        while qm.connection(connection).sizes("bench").total:
            if proc.poll() is not None:
                raise RuntimeError("worker exited early")
            time.sleep(0.02)
        wall, cpu = time.perf_counter() - started, _cpu_seconds(proc.pid)
    finally:
        stop_worker(proc)
    return jobs / wall, jobs / cpu


def worker_overhead(tmp: Path, drivers: list[str], jobs: int, rounds: int) -> None:
    """Steady jobs/s of a real `queue:work` process (as `make bench` measures it), with QUEUE_RECORD_COMPLETED=0 and 1
    alternated; median and best of `rounds`."""
    from bench.__main__ import base_env
    from bench.redis_bench import start_redis
    from app.Queue.Database import migrator
    from app.Queue.QueueManager import manager
    from config import env as env_mod

    for driver in drivers:
        env = {**base_env(tmp / driver)}
        (tmp / driver).mkdir(exist_ok=True)
        server = None
        connection, args = "database", ["--sleep=0.01"]
        if driver == "redis":
            try:
                server, port = start_redis(tmp / driver)
            except RuntimeError as exc:
                print(f"  {driver}: skipped ({exc})")
                continue
            env.update(QUEUE_CONNECTION="redis", CACHE_STORE="redis", REDIS_HOST="127.0.0.1", REDIS_PORT=str(port))
            connection, args = "redis", ["--sleep=3"]
        try:
            os.environ.update(env)
            env_mod.reload()
            manager().reset()
            migrator.upgrade(manager().engine())
            for extra in ([], ["--prefetch=100"]):
                rates: dict[str, list[tuple[float, float]]] = {"0": [], "1": []}
                for _ in range(rounds):
                    for flag in ("0", "1"):
                        manager().connection(connection).clear("bench")
                        rates[flag].append(_drain(connection, {**env, "QUEUE_RECORD_COMPLETED": flag}, jobs, [*args, *extra]))
                name = f"{driver}{' ' + extra[0] if extra else ''}"
                for column, label in ((0, "wall"), (1, "CPU")):
                    off = statistics.median(r[column] for r in rates["0"])
                    on = statistics.median(r[column] for r in rates["1"])
                    print(f"  {name:<24} {label:<4} without recording {off:6.0f} jobs/s, with {on:6.0f} jobs/s "
                          f"({100 * (on - off) / off:+.1f} %)   runs: {[round(r[column]) for r in rates['0']]} / "
                          f"{[round(r[column]) for r in rates['1']]}")
            manager().reset()
        finally:
            if server is not None:
                server.terminate()
                server.wait(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--failed", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--overhead-jobs", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-overhead", action="store_true")
    parser.add_argument("--worker-drivers", default="sqlite,redis", help="drivers for the worker-process overhead run")
    parser.add_argument("--worker-jobs", type=int, default=10_000)
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--latency-drivers", default="sqlite,mariadb,pgsql,redis", help="stores for the latency run")
    args = parser.parse_args(argv)
    if not args.skip_overhead:
        with tempfile.TemporaryDirectory(prefix="bench-dash-overhead-") as tmp:
            setup_env(Path(tmp))
            overhead(args.overhead_jobs, args.rounds)
            print("completed-job recording, steady jobs/s of one `queue:work` process (load average "
                  f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs):")
            worker_overhead(Path(tmp), [d for d in args.worker_drivers.split(",") if d], args.worker_jobs, args.rounds)
    if not args.skip_latency:
        from bench.dashboard_latency import run

        run([d for d in args.latency_drivers.split(",") if d], args.jobs, args.failed, args.repeat)
    return 0  # a report, not a gate: wall times on a shared VM swing with its load (printed above)


if __name__ == "__main__":
    sys.exit(main())
