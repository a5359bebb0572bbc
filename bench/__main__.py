"""`make bench`: print per-driver throughput, latency and worker memory.

Drivers: sqlite always; redis (plain, 3-master Cluster, TLS), mariadb and pgsql when their server binaries
are installed (throwaway servers on free loopback ports, as in the tests). Options:
  --drivers sqlite,redis,redis-cluster,redis-tls,mariadb,pgsql   --quick (smaller N)   --rss-jobs 100000
"""
from __future__ import annotations

import argparse
import base64
import os
import sys
import tempfile
from pathlib import Path

from bench.harness import PREFETCH, Result, fmt, run_driver

ROOT = Path(__file__).resolve().parent.parent


def base_env(tmp: Path) -> dict[str, str]:
    return {
        "APP_KEY": "base64:" + base64.b64encode(os.urandom(32)).decode(),
        "APP_ENV_FILE": str(tmp / ".env"),
        "QUEUE_ALLOWED_JOB_MODULES": "app.,bench.",
        "DB_CONNECTION": "sqlite",
        "DB_DATABASE": str(tmp / "bench.sqlite"),
        "QUEUE_CONNECTION": "database",
        "CACHE_STORE": "database",
    }


def bench_sqlite(tmp: Path, sizes: dict[str, int], rss_marks: tuple[int, ...]) -> Result:
    from app.Queue.Database import migrator
    from app.Queue.QueueManager import manager

    env = base_env(tmp)
    return run_driver("sqlite", "database", env, sizes, lambda: migrator.upgrade(manager().engine()),
                      worker_args=["--sleep=0.01"], rss_marks=rss_marks)


def bench_mariadb(tmp: Path, sizes: dict[str, int], rss_marks: tuple[int, ...]) -> Result:
    from bench.mariadb import bench_mariadb as run

    return run(tmp, sizes, rss_marks)



def bench_pgsql(tmp: Path, sizes: dict[str, int], rss_marks: tuple[int, ...]) -> Result:
    from bench.pgsql import bench_pgsql as run

    return run(tmp, sizes, rss_marks)


def bench_redis(tmp: Path, sizes: dict[str, int], rss_marks: tuple[int, ...]) -> Result:
    from bench.redis_bench import bench_redis as run

    return run(tmp, sizes, rss_marks, base_env(tmp))


def bench_redis_cluster(tmp: Path, sizes: dict[str, int], rss_marks: tuple[int, ...]) -> Result:
    from bench.redis_topologies import bench_redis_cluster as run

    return run(tmp, sizes, rss_marks, base_env(tmp))


def bench_redis_tls(tmp: Path, sizes: dict[str, int], rss_marks: tuple[int, ...]) -> Result:
    from bench.redis_topologies import bench_redis_tls as run

    return run(tmp, sizes, rss_marks, base_env(tmp))


DRIVERS = {"sqlite": bench_sqlite, "redis": bench_redis, "redis-cluster": bench_redis_cluster,
           "redis-tls": bench_redis_tls, "mariadb": bench_mariadb, "pgsql": bench_pgsql}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--drivers", default=",".join(DRIVERS))
    parser.add_argument("--quick", action="store_true", help="small N, for a smoke run")
    parser.add_argument("--rss-jobs", type=int, default=100_000, help="jobs for the RSS measurement (marks at 1k and this)")
    args = parser.parse_args(argv)
    sizes = {"dispatch": 2_000, "bulk": 20_000, "process": 5_000, "latency": 200, "io": 1_500, "io_async": 6_000} \
        if args.quick else \
        {"dispatch": 10_000, "bulk": 100_000, "process": 20_000, "latency": 500, "io": 6_000, "io_async": 30_000}
    rss_marks = (1_000, 5_000) if args.quick else (1_000, args.rss_jobs)
    results: list[Result] = []
    for name in [d.strip() for d in args.drivers.split(",") if d.strip()]:
        if name not in DRIVERS:
            print(f"unknown driver {name!r}; choose from {', '.join(DRIVERS)}", file=sys.stderr)
            return 2
        with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
            print(f"measuring {name} ...", file=sys.stderr, flush=True)
            try:
                results.append(DRIVERS[name](Path(tmp), sizes, rss_marks))
            except Exception as exc:  # a driver whose server is missing is reported, not fatal
                results.append(Result(name, notes=[f"skipped: {exc}"]))
    print_table(results, sizes)
    return 0


def print_table(results: list[Result], sizes: dict[str, int]) -> None:
    print(f"\nN: dispatch {sizes['dispatch']:,}, bulk {sizes['bulk']:,}, process {sizes['process']:,} no-op jobs, "
          f"latency {sizes['latency']} samples; one worker process\n")
    print(f"| driver | dispatch jobs/s | bulk jobs/s | process jobs/s (incl. start) | steady jobs/s "
          f"| steady --prefetch={PREFETCH} | p50 ms | p99 ms | RSS MB by jobs done |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|---|")
    for r in results:
        rss = ", ".join(f"{k:,}: {v:.1f}" for k, v in sorted(r.rss_mb.items())) or "—"
        print(f"| {r.driver} | {fmt(r.dispatch_per_s)} | {fmt(r.bulk_per_s)} | {fmt(r.process_per_s)} | {fmt(r.steady_per_s)} "
              f"| {fmt(r.prefetch_per_s)} "
              f"| {fmt(r.p50_ms, '.2f')} | {fmt(r.p99_ms, '.2f')} | {rss} |")
        for note in r.notes:
            print(f"  {r.driver}: {note}")
    print_concurrency_table(results, sizes)


def print_concurrency_table(results: list[Result], sizes: dict[str, int]) -> None:
    """The `--concurrency` rows (bench/concurrency.py): 20 ms I/O jobs, and RSS with 32 slots."""
    rows = [r for r in results if r.concurrency is not None]
    if not rows:
        return
    print(f"\n`--concurrency`: {sizes['io']:,} jobs of 20 ms I/O on 32 threads (ideal 1,600/s), "
          f"{sizes['io_async']:,} async ones on --concurrency=500 (ideal 25,000/s); one worker process\n")
    print("| driver | io20 --concurrency=32 steady jobs/s | io20 async --concurrency=500 steady jobs/s "
          "| RSS MB with --concurrency=32 (at rest, then by no-op jobs done) |")
    print("|---|--:|--:|---|")
    for r in rows:
        c = r.concurrency
        rss = ", ".join(f"{'at rest' if k == 0 else f'{k:,}'}: {v:.1f}" for k, v in sorted(c.rss_mb.items())) or "—"
        print(f"| {r.driver} | {fmt(c.io_threads_per_s)} | {fmt(c.io_async_per_s)} | {rss} |")


if __name__ == "__main__":
    raise SystemExit(main())
