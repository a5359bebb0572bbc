"""Dashboard latency at the issue's scale on every driver: 1,000,000 waiting jobs and 100,000 failed.

For each of --drivers (sqlite, mariadb, pgsql, redis) a throwaway store is filled with --jobs
waiting jobs (a tenth delayed; on SQL a hundredth reserved), --failed failed jobs (tagged, with
their tag index), an hour of completed jobs (60,000) under two monitored tags, an hour of
metrics, 1,000 batches and a day of `horizon:snapshot` snapshots. Then every dashboard page, API
list and /metrics is timed through the ASGI app: wall median and worst of --repeat after a
warm-up, and the CPU spent per request by this process plus the store's server processes
(the VM is shared: wall time swings with other sessions' load, CPU time much less).
Budgets (issue 14): pages and API lists <= 200 ms, /metrics <= 100 ms.

On Redis the waiting jobs, completed jobs and completed tag index live in Redis (the cache
store); failed jobs, batches and metrics in the SQL database beside it (the default setup).
MariaDB's test server runs with a 64 MB buffer pool; the bench raises it to 1 GB (a production
server holds its hot indexes in memory).
Usage: python -m bench.dashboard_latency [--drivers sqlite,redis] [--jobs N] [--failed N] [--repeat N]
"""
from __future__ import annotations

import argparse
import contextlib
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
from typing import Iterator

PAGE_BUDGET_MS, METRICS_BUDGET_MS = 200.0, 100.0
QUEUES = ("default", "emails", "reports", "webhooks")
CLASSES = ("SendEmailJob", "GenerateReportJob", "SyncAccountJob", "ResizeImageJob", "ChargeCardJob")
TAGS = ["account:42", "bench"]
DRIVERS = ("sqlite", "mariadb", "pgsql", "redis")


# -- the stores -------------------------------------------------------------------------------
def _use(env: dict[str, str], saved: dict[str, str]) -> None:
    """Point this process at `env` (nothing left over from another driver's run) and migrate."""
    from app.Queue.Database import migrator
    from app.Queue.QueueManager import manager
    from config import env as env_mod

    os.environ.clear()
    os.environ.update(saved)
    os.environ.update(env)
    os.environ["APP_ENV"] = "local"
    env_mod.reload()
    manager().reset()
    migrator.upgrade(manager().engine())


@contextlib.contextmanager
def store(driver: str, tmp: Path) -> Iterator[tuple[str, list[int]]]:
    """Start `driver`'s store, point the app at it; yields (queue connection, server pids for CPU accounting)."""
    from bench.__main__ import base_env

    saved, base = dict(os.environ), base_env(tmp)
    try:
        if driver == "sqlite":
            _use(base, saved)
            yield "database", []
        elif driver == "mariadb":
            from tests.servers_mariadb import running_mariadb

            with running_mariadb() as server:
                server.create_database("bench")
                _use({**base, **server.env("bench")}, saved)
                conn = server.connect()
                with conn.cursor() as cur:
                    cur.execute("SET GLOBAL innodb_buffer_pool_size = 1073741824")
                conn.close()
                yield "database", [server.process.pid]  # type: ignore[union-attr]
        elif driver == "pgsql":
            from tests.servers_pgsql import running_postgres

            with running_postgres() as server:
                server.create_database("bench")
                _use({**base, **server.env("bench")}, saved)
                yield "database", [server.process.pid]  # type: ignore[union-attr]
        elif driver == "redis":
            from bench.redis_bench import start_redis

            proc, port = start_redis(tmp)
            try:
                _use({**base, "QUEUE_CONNECTION": "redis", "CACHE_STORE": "redis", "REDIS_HOST": "127.0.0.1",
                      "REDIS_PORT": str(port), "REDIS_URL": "", "REDIS_CLUSTER": ""}, saved)
                yield "redis", [proc.pid]
            finally:
                proc.terminate()
                proc.wait(10)
        else:
            raise SystemExit(f"--drivers: unknown driver {driver!r} (choose from {', '.join(DRIVERS)})")
    finally:
        from app.Queue.QueueManager import manager

        manager().reset()
        os.environ.clear()
        os.environ.update(saved)


def tree_cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of `pids` and all their descendants (PostgreSQL serves each connection in a child)."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        ticks[int(entry)] = int(fields[11]) + int(fields[12])
    wanted, total = set(pids), 0
    for pid in ticks:
        p = pid
        while p > 1:
            if p in wanted:
                total += ticks[pid]
                break
            p = parents.get(p, 0)
    return total / os.sysconf("SC_CLK_TCK")


# -- seeding ----------------------------------------------------------------------------------
def _templates() -> list[str]:
    """Real envelopes (one per class, tagged) to copy with fresh uuids."""
    from app.Jobs.Job import Job
    from app.Queue.QueueManager import manager

    out = []
    for name in CLASSES:
        cls = type(name, (Job,), {"__module__": "bench.jobs", "handle": lambda self: None,
                                  "tags": lambda self: list(TAGS)})
        job = cls()
        job.to, job.account_id = "user@example.com", 42
        out.append(manager().codec.create(job, "default", "database")[1])
    return out


def _fresh(template: str, queue: str) -> str:
    envelope = json.loads(template)
    envelope["uuid"], envelope["queue"] = str(uuid.uuid4()), queue
    return json.dumps(envelope, separators=(",", ":"))


def _seed_waiting(connection: str, jobs: int, templates: list[str], t: int) -> None:
    """Waiting jobs: SQL rows in big executemany transactions, or the Redis driver's own bulk push."""
    from app.Queue.contracts import PushItem
    from app.Queue.Database.tables import jobs as jobs_table
    from app.Queue.QueueManager import manager

    rnd = random.Random(7)
    if connection == "redis":
        driver = manager().connection("redis")
        for offset in range(0, jobs, 10_000):
            driver.bulk([PushItem(_fresh(templates[i % 5], QUEUES[i % 4]), QUEUES[i % 4], 3600.0 if i % 10 == 0 else 0.0)
                         for i in range(offset, min(jobs, offset + 10_000))])
        return
    with manager().engine().begin() as conn:
        for offset in range(0, jobs, 20_000):
            rows = []
            for i in range(offset, min(jobs, offset + 20_000)):
                queue = QUEUES[i % len(QUEUES)]
                delayed, reserved = i % 10 == 0, i % 100 == 1
                rows.append({"queue": queue, "payload": _fresh(templates[i % len(templates)], queue), "attempts": int(reserved),
                             "priority": 0, "reserved_at": t if reserved else None, "reserved_by": "w" if reserved else None,
                             "available_at": t + 3600 if delayed else t - rnd.randint(0, 600), "created_at": t - 600})
            conn.execute(jobs_table.insert(), rows)


def _seed_failed(failed: int, templates: list[str], t: int) -> None:
    """Failed jobs and their tag index entries, as the workers' FailedTagRecorder writes them."""
    from app.Horizon.TagIndexFactory import failed_tag_index
    from app.Queue.Database.tables import failed_jobs
    from app.Queue.QueueManager import manager

    rnd = random.Random(8)
    trace = "Traceback (most recent call last):\n" + "  File \"app/Jobs/x.py\", line 1, in handle\n" * 12 + "RuntimeError: boom"
    index = failed_tag_index(manager())
    for offset in range(0, failed, 20_000):
        rows = []
        for i in range(offset, min(failed, offset + 20_000)):
            queue = QUEUES[i % len(QUEUES)]
            payload = _fresh(templates[i % len(templates)], queue)
            rows.append({"uuid": json.loads(payload)["uuid"], "connection": "database", "queue": queue, "payload": payload,
                         "exception": trace, "failed_at": t - 7 * 86400 + i * 6 + rnd.randint(0, 5)})
        with manager().engine().begin() as conn:
            conn.execute(failed_jobs.insert(), rows)
        index.add("failed", [(tag, r["uuid"], float(r["failed_at"])) for r in rows for tag in TAGS])


def _seed_completed(t: int) -> None:
    """An hour of completed jobs (flushes of 500), indexed under the two monitored tags."""
    from app.Horizon.CompletedStoreFactory import completed_store
    from app.Horizon.TagIndexFactory import completed_tag_index
    from app.Horizon.TagsRepository import TagsRepository
    from app.Queue.QueueManager import manager

    qm = manager()
    for tag in TAGS:
        TagsRepository(qm).monitor(tag)
    store, index = completed_store(qm), completed_tag_index(qm)
    for start in range(0, 60_000, 500):
        rows = [(str(uuid.uuid4()), "database", QUEUES[i % 4], CLASSES[i % 5], json.dumps(TAGS),
                 '{"to":"user@example.com"}', 1, 0.01, t - 3600 + i * 0.06, t - 3600 + i * 0.06)
                for i in range(start, start + 500)]
        store.record(rows)
        index.add("completed", [(tag, r[0], r[-1]) for r in rows for tag in TAGS])


def _seed_history(t: int) -> None:
    """Batches, an hour of metrics and a day of snapshots taken every 5 minutes."""
    from freezegun import freeze_time

    from app.Horizon.MetricsSnapshot import take_snapshot
    from app.Jobs.MetricsStore import MetricsStore, Sample
    from app.Queue.Database.tables import job_batches
    from app.Queue.QueueManager import manager

    qm = manager()
    with qm.engine().begin() as conn:
        conn.execute(job_batches.insert(), [
            {"id": str(uuid.uuid4()), "name": f"import-{i}", "total_jobs": 100, "pending_jobs": 100 - i % 100, "failed_jobs": i % 3,
             "failed_job_ids": "[]", "options": "{}", "cancelled_at": None, "created_at": t - i, "finished_at": None}
            for i in range(1000)])
    samples = [Sample(CLASSES[i % 5], QUEUES[i % 4], 0.001 * (1 + i % 50), i % 20 != 0, t - 3600 + i * 0.6) for i in range(6000)]
    MetricsStore(qm.engine()).record(samples)
    for k in range(12):  # the last hour's snapshots (a day's are 288; the page reads the stored list, trimmed to 24 by default)
        with freeze_time(time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t - 3600 + k * 300))):
            take_snapshot(qm, [], 24)


def seed(connection: str, jobs: int, failed: int) -> float:
    """Fill the store; returns the seconds it took."""
    from app.Queue.QueueManager import manager

    started, t = time.perf_counter(), int(time.time())
    templates = _templates()
    _seed_waiting(connection, jobs, templates, t)
    _seed_failed(failed, templates, t)
    _seed_completed(t)
    _seed_history(t)
    engine = manager().engine()
    if engine.dialect.name != "sqlite":  # fresh statistics and visibility maps, as autovacuum / InnoDB keep them
        from sqlalchemy import text

        verb = "VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE TABLE"
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in ("jobs", "failed_jobs", "job_tags", "completed_jobs", "job_batches", "job_metrics"):
                conn.execute(text(f"{verb} {table}"))
    return time.perf_counter() - started


# -- timing -----------------------------------------------------------------------------------
def urls(first_failed: str) -> list[tuple[str, float]]:
    """Every page and API list, with its budget."""
    page = [
        "/horizon", "/horizon/api/stats", "/horizon/api/workload", "/horizon/api/jobs/pending",
        "/horizon/api/jobs/pending?page=2&queue=emails", "/horizon/api/jobs/pending?tag=bench",
        "/horizon/api/jobs/completed", "/horizon/api/jobs/completed?job=SendEmailJob",
        "/horizon/api/jobs/completed?tag=account:42", "/horizon/api/jobs/failed", "/horizon/api/jobs/failed?page=40",
        "/horizon/api/jobs/failed?tag=bench", "/horizon/api/jobs/failed?tag=bench&page=40",
        f"/horizon/api/jobs/{first_failed}", "/horizon/api/batches", "/horizon/api/masters",
        "/horizon/api/metrics/jobs", "/horizon/api/metrics/queues/default", "/horizon/api/monitoring",
        "/horizon/workload", "/horizon/monitoring", "/horizon/monitoring?tag=bench", "/horizon/jobs/pending",
        "/horizon/jobs/completed", "/horizon/jobs/failed", "/horizon/metrics", "/horizon/metrics?job=SendEmailJob",
        "/horizon/batches", "/horizon/supervisors",
    ]
    return [(u, PAGE_BUDGET_MS) for u in page] + [("/metrics", METRICS_BUDGET_MS)]


def latency(repeat: int, servers: list[int]) -> list[tuple[str, float, float, float, float]]:
    """(url, wall median, wall worst, CPU median of this process + servers, budget) per URL."""
    from app.Horizon.Auth import AccessPolicy
    from app.Horizon.DashboardApp import create_app
    from app.Queue.QueueManager import manager

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    client = TestClient(create_app(manager(), "127.0.0.1", AccessPolicy(True, None, None)))
    first_failed = client.get("/horizon/api/jobs/failed").json()["items"][0]["id"]
    results = []
    for url, budget in urls(first_failed):
        client.get(url)  # warm-up (page cache, first scrape's full read)
        times, cpu = [], []
        for _ in range(repeat):
            start, cpu_start, server_start = time.perf_counter(), time.process_time(), tree_cpu_seconds(servers) if servers else 0.0
            response = client.get(url)
            times.append((time.perf_counter() - start) * 1000)
            server_cpu = (tree_cpu_seconds(servers) - server_start) if servers else 0.0
            cpu.append((time.process_time() - cpu_start + server_cpu) * 1000)
            assert response.status_code == 200, (url, response.status_code, response.text[:300])
        results.append((url, statistics.median(times), max(times), statistics.median(cpu), budget))
    return results


def report(driver: str, results: list[tuple[str, float, float, float, float]], repeat: int) -> int:
    """Print one driver's table; returns how many answers were over budget in wall time."""
    over = 0
    print(f"dashboard latency, {driver}: wall median / worst of {repeat}, CPU median (this process + the store's "
          f"server), budget; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs:")
    for url, median, worst, cpu, budget in results:
        ok = median <= budget
        over += not ok
        print(f"  {url:<48} {median:7.1f} / {worst:7.1f} ms  cpu {cpu:7.1f} ms  (<= {budget:.0f}) "
              f"{'OK' if ok else 'OVER' + (' (CPU within budget: the machine is busy)' if cpu <= budget else '')}", flush=True)
    print(f"  -> {over} of them over budget (wall time)" if over else "  -> every answer within budget", flush=True)
    return over


def run(drivers: list[str], jobs: int, failed: int, repeat: int) -> int:
    """Seed and time each driver in turn; returns how many answers were over budget."""
    over = 0
    for driver in drivers:
        with tempfile.TemporaryDirectory(prefix=f"bench-dash-{driver}-") as tmp:
            try:
                with store(driver, Path(tmp)) as (connection, servers):
                    took = seed(connection, jobs, failed)
                    print(f"{driver}: seeded {jobs:,} waiting, {failed:,} failed, 60,000 completed, 1,000 batches "
                          f"in {took:.0f} s", flush=True)
                    over += report(driver, latency(repeat, servers), repeat)
            except RuntimeError as exc:  # a server that is not installed: say so, measure the others
                print(f"{driver}: skipped ({exc})", flush=True)
    return over


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard_latency", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--drivers", default=",".join(DRIVERS))
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--failed", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    run([d for d in args.drivers.split(",") if d], args.jobs, args.failed, args.repeat)
    return 0  # a report, not a gate: wall times on a shared VM swing with its load (printed above)


if __name__ == "__main__":
    sys.exit(main())
