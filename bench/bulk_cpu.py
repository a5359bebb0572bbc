"""Bulk dispatch alone, per driver: wall jobs/s and the dispatching process's CPU per job.

`make bench` reports bulk jobs/s of wall time, which on a shared machine moves with everyone
else's load; the CPU time of this process (time.process_time, NoopJob construction included,
as in bench/harness.py measure_bulk) is what a change to the dispatch path is judged by.
Servers are started as `make bench` starts them.

    python -m bench.bulk_cpu [--drivers sqlite,redis,...] [--jobs 20000] [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import bench.__main__ as bench_main
import bench.harness
import bench.mariadb
import bench.pgsql
import bench.redis_bench
import bench.redis_topologies
from bench.harness import Result


def _bulk_only(jobs: int, repeats: int) -> Callable[..., Result]:
    """A `run_driver` that measures bulk dispatch only, printing one line per driver."""
    def run(name: str, connection: str, env: dict[str, str], sizes: dict[str, int], prepare: Callable[[], None],
            worker_args: list[str] | None = None, rss_marks: tuple[int, ...] = ()) -> Result:
        from app.Queue.QueueManager import manager
        from bench.jobs import NoopJob
        from config import env as env_mod

        os.environ.update(env)
        env_mod.reload()
        qm = manager()
        qm.reset()
        prepare()
        driver = qm.connection(connection)
        driver.clear("bench")
        qm.bulk([NoopJob() for _ in range(1000)], "bench", connection)  # warm-up: connections, caches
        driver.clear("bench")
        figures = []
        for _ in range(repeats):
            cpu, wall = time.process_time(), time.perf_counter()
            for offset in range(0, jobs, 1000):
                qm.bulk([NoopJob() for _ in range(min(1000, jobs - offset))], "bench", connection)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            stored = driver.sizes("bench").total
            driver.clear("bench")
            if stored != jobs:
                raise RuntimeError(f"{name}: {stored} jobs stored of {jobs}")
            figures.append(f"{jobs / wall:,.0f}/s {1e6 * cpu / jobs:.2f} us CPU")
        print(f"| {name} | {' | '.join(figures)} |", flush=True)
        qm.reset()
        return Result(name)
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bulk_cpu", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--drivers", default="sqlite,redis,mariadb,pgsql")
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    names = [d.strip() for d in args.drivers.split(",") if d.strip()]
    unknown = [n for n in names if n not in bench_main.DRIVERS]
    if args.jobs < 1 or args.repeats < 1 or unknown:
        problem = (f"--drivers: unknown {', '.join(unknown)}; choose from {', '.join(bench_main.DRIVERS)}" if unknown
                   else "--jobs and --repeats must be at least 1")
        print(problem, file=sys.stderr)
        return 1
    measure: Any = _bulk_only(args.jobs, args.repeats)
    for module in (bench_main, bench.harness, bench.mariadb, bench.pgsql, bench.redis_bench, bench.redis_topologies):
        module.run_driver = measure  # type: ignore[attr-defined]
    print(f"bulk of {args.jobs:,} NoopJobs in bulks of 1,000: wall jobs/s and dispatcher CPU per job, each repeat\n")
    print(f"| driver | {' | '.join(f'run {i + 1}' for i in range(args.repeats))} |")
    print(f"|---|{'--:|' * args.repeats}")
    for name in names:
        with tempfile.TemporaryDirectory(prefix=f"bench-bulk-{name}-") as tmp:
            try:
                bench_main.DRIVERS[name](Path(tmp), {}, ())
            except Exception as exc:  # a driver whose server is missing is reported, not fatal
                print(f"| {name} | skipped: {exc} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
