"""Dashboard speed at scale, and what recording completed jobs costs a worker.

1. `overhead`: no-op jobs/s of an in-process SQLite worker with every listener bootstrap
   registers, with and without app.Horizon.CompletedJobRecorder (alternated, median of --rounds).
2. `latency`: a SQLite store with --jobs waiting jobs (default 1,000,000) and --failed failed jobs
   (default 100,000), plus an hour of completed jobs, metrics and batches; each dashboard page,
   API list and /metrics is timed through the ASGI app (median and worst of --repeat after a
   warm-up). Budgets: pages and API lists <= 200 ms, /metrics <= 100 ms.

The stored payloads are copies of real envelopes with fresh uuids (signatures are not
re-made: the dashboard never verifies or runs them).
Usage: python -m bench.dashboard [--jobs N] [--failed N] [--skip-overhead] [--skip-latency]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

PAGE_BUDGET_MS, METRICS_BUDGET_MS = 200.0, 100.0
QUEUES = ("default", "emails", "reports", "webhooks")
CLASSES = ("SendEmailJob", "GenerateReportJob", "SyncAccountJob", "ResizeImageJob", "ChargeCardJob")


def setup_env(tmp: Path) -> None:
    from bench.__main__ import base_env

    os.environ.update(base_env(tmp))
    os.environ["APP_ENV"] = "local"
    from app.Queue.database import migrator
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
    from app.Queue.database import migrator
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


# -- 2. latency at scale --------------------------------------------------------------------------
def _templates() -> list[str]:
    """Real envelopes (one per class) to copy with fresh uuids."""
    from app.Jobs.Job import Job
    from app.Queue.QueueManager import manager

    out = []
    for name in CLASSES:
        cls = type(name, (Job,), {"__module__": "bench.jobs", "handle": lambda self: None})
        job = cls()
        job.to, job.account_id = "user@example.com", 42
        cls.tags = lambda self: ["account:42", "bench"]  # type: ignore[method-assign]
        out.append(manager().codec.create(job, "default", "database")[1])
    return out


def _fresh(template: str, queue: str) -> str:
    envelope = json.loads(template)
    envelope["uuid"], envelope["queue"] = str(uuid.uuid4()), queue
    return json.dumps(envelope, separators=(",", ":"))


def seed(jobs: int, failed: int) -> None:
    """Fill the store in big executemany transactions."""
    from app.Horizon.tables import completed_jobs
    from app.Jobs.MetricsStore import Aggregate, MetricsStore, Sample
    from app.Queue.database.tables import failed_jobs, job_batches
    from app.Queue.database.tables import jobs as jobs_table
    from app.Queue.QueueManager import manager

    engine, templates, t = manager().engine(), _templates(), int(time.time())
    rnd = random.Random(7)
    started = time.perf_counter()
    with engine.begin() as conn:
        for offset in range(0, jobs, 50_000):
            rows = []
            for i in range(offset, min(jobs, offset + 50_000)):
                queue = QUEUES[i % len(QUEUES)]
                delayed, reserved = i % 10 == 0, i % 100 == 1
                rows.append({"queue": queue, "payload": _fresh(templates[i % len(templates)], queue), "attempts": int(reserved),
                             "priority": 0, "reserved_at": t if reserved else None, "reserved_by": "w" if reserved else None,
                             "available_at": t + 3600 if delayed else t - rnd.randint(0, 600), "created_at": t - 600})
            conn.execute(jobs_table.insert(), rows)
        trace = "Traceback (most recent call last):\n" + "  File \"app/Jobs/x.py\", line 1, in handle\n" * 12 + "RuntimeError: boom"
        for offset in range(0, failed, 50_000):
            rows = []
            for i in range(offset, min(failed, offset + 50_000)):
                queue = QUEUES[i % len(QUEUES)]
                payload = _fresh(templates[i % len(templates)], queue)
                rows.append({"uuid": json.loads(payload)["uuid"], "connection": "database", "queue": queue, "payload": payload,
                             "exception": trace, "failed_at": t - rnd.randint(0, 7 * 86400)})
            conn.execute(failed_jobs.insert(), rows)
        flushes = []
        for start in range(0, 60_000, 500):  # as workers write them: one row per flush of up to 500 jobs
            rows = [(str(uuid.uuid4()), "database", QUEUES[i % 4], CLASSES[i % 5], '["account:42", "bench"]',
                     '{"to":"user@example.com"}', 1, 0.01, t - 3600 + i * 0.06, t - 3600 + i * 0.06)
                    for i in range(start, start + 500)]
            flushes.append({"first_at": rows[0][-1], "last_at": rows[-1][-1], "count": len(rows),
                            "jobs": json.dumps(rows, separators=(",", ":"))})
        conn.execute(completed_jobs.insert(), flushes)
        conn.execute(job_batches.insert(), [
            {"id": str(uuid.uuid4()), "name": f"import-{i}", "total_jobs": 100, "pending_jobs": 100 - i % 100, "failed_jobs": i % 3,
             "failed_job_ids": "[]", "options": "{}", "cancelled_at": None, "created_at": t - i, "finished_at": None}
            for i in range(1000)])
    samples = [Sample(CLASSES[i % 5], QUEUES[i % 4], 0.001 * (1 + i % 50), i % 20 != 0, t - 3600 + i * 0.6) for i in range(6000)]
    MetricsStore(engine).record(samples)
    print(f"seeded {jobs:,} jobs, {failed:,} failed, 60,000 completed, 1,000 batches in {time.perf_counter() - started:.1f} s")
    _ = Aggregate


def latency(repeat: int) -> list[tuple[str, float, float, float]]:
    from app.Horizon.Auth import AccessPolicy
    from app.Horizon.DashboardApp import create_app
    from app.Queue.QueueManager import manager

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    client = TestClient(create_app(manager(), "127.0.0.1", AccessPolicy(True, None, None)))
    one_failed = client.get("/horizon/api/jobs/failed").json()["items"][0]["id"]
    urls = [("/horizon", PAGE_BUDGET_MS), ("/horizon/api/stats", PAGE_BUDGET_MS), ("/horizon/api/workload", PAGE_BUDGET_MS),
            ("/horizon/api/jobs/pending", PAGE_BUDGET_MS), ("/horizon/api/jobs/pending?page=2&queue=emails", PAGE_BUDGET_MS),
            ("/horizon/api/jobs/completed", PAGE_BUDGET_MS), ("/horizon/api/jobs/completed?job=SendEmailJob", PAGE_BUDGET_MS),
            ("/horizon/api/jobs/failed", PAGE_BUDGET_MS), ("/horizon/api/jobs/failed?page=40", PAGE_BUDGET_MS),
            (f"/horizon/api/jobs/{one_failed}", PAGE_BUDGET_MS), ("/horizon/api/batches", PAGE_BUDGET_MS),
            ("/horizon/api/masters", PAGE_BUDGET_MS), ("/horizon/api/metrics/jobs", PAGE_BUDGET_MS),
            ("/horizon/workload", PAGE_BUDGET_MS), ("/horizon/jobs/pending", PAGE_BUDGET_MS),
            ("/horizon/jobs/completed", PAGE_BUDGET_MS), ("/horizon/jobs/failed", PAGE_BUDGET_MS),
            ("/horizon/metrics", PAGE_BUDGET_MS), ("/horizon/batches", PAGE_BUDGET_MS), ("/metrics", METRICS_BUDGET_MS)]
    results = []
    for url, budget in urls:
        client.get(url)  # warm-up (page cache, first scrape's full read)
        times, cpu = [], []
        for _ in range(repeat):
            start, cpu_start = time.perf_counter(), time.process_time()
            response = client.get(url)
            times.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - cpu_start) * 1000)
            assert response.status_code == 200, (url, response.status_code, response.text[:300])
        results.append((url, statistics.median(times), max(times), statistics.median(cpu), budget))
    return results


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
    args = parser.parse_args(argv)
    over = 0
    if not args.skip_overhead:
        with tempfile.TemporaryDirectory(prefix="bench-dash-overhead-") as tmp:
            setup_env(Path(tmp))
            overhead(args.overhead_jobs, args.rounds)
            print("completed-job recording, steady jobs/s of one `queue:work` process (load average "
                  f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs):")
            worker_overhead(Path(tmp), [d for d in args.worker_drivers.split(",") if d], args.worker_jobs, args.rounds)
    if not args.skip_latency:
        with tempfile.TemporaryDirectory(prefix="bench-dash-") as tmp:
            setup_env(Path(tmp))
            seed(args.jobs, args.failed)
            print(f"dashboard latency, SQLite, wall median / worst of {args.repeat}, CPU median (budget); "
                  f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs:")
            for url, median, worst, cpu, budget in latency(args.repeat):
                ok = median <= budget
                over += not ok
                print(f"  {url:<50} {median:6.1f} / {worst:6.1f} ms  cpu {cpu:6.1f} ms  (<= {budget:.0f} ms) "
                      f"{'OK' if ok else 'OVER' + (' (CPU within budget: the machine is busy)' if cpu <= budget else '')}")
            print(f"  -> {over} of them over budget (wall time)" if over else "  -> every answer within budget")
            from app.Queue.QueueManager import manager

            manager().reset()
    return 0  # a report, not a gate: wall times on a shared VM swing with its load (printed above)


if __name__ == "__main__":
    sys.exit(main())
