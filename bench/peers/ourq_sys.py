"""This project as one more row of ../shared/bench-peers (copied there by `make bench-peers`).

Enqueue: `NoopJob.dispatch(t)` (one public-API call per job). Worker: one
`python artisan queue:work redis` process, one job at a time, library defaults
except `--quiet` (WARNING-level logging, as for the other rows); the
`ourq-prefetch100` row adds `--prefetch=100` (batch reservation). The job body is
the harness's `job_body` with a per-process redis-py client. For I/O-bound jobs
(`bench.py --job-io-ms 20`): `ourq-c32` runs `def handle` jobs on 32 threads
(`--concurrency=32`; `ourq-c32-prefetch64` adds `--prefetch=64`), `ourq-async32` / `ourq-async500` run `async def handle` jobs (the
harness's `ajob_body` on a redis.asyncio client) as tasks on one event loop.
"""
from __future__ import annotations

import os
import sys
import time

from common import System, ajob_body, counter_client, job_body, url_for

DB = 7
URL = url_for(DB)
PROJECT = os.environ.get("OURQ_PROJECT", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
PYTHON = os.environ.get("OURQ_PYTHON", sys.executable)
KEY = "base64:" + "b" * 43 + "="


def _env() -> dict[str, str]:
    host_port = URL.split("//", 1)[1].rsplit("/", 1)[0]
    host, port = host_port.split(":")
    return {
        "APP_KEY": KEY,
        "APP_ENV_FILE": os.path.join(PROJECT, "storage", "bench-peers.env"),
        "QUEUE_CONNECTION": "redis",
        "CACHE_STORE": "redis",
        "REDIS_HOST": host,
        "REDIS_PORT": port,
        "REDIS_DB": str(DB),
        "DB_DATABASE": os.path.join(PROJECT, "storage", "bench-peers.sqlite"),
        "QUEUE_ALLOWED_JOB_MODULES": "app.,ourq_sys",
    }


os.environ.update({k: v for k, v in _env().items() if k not in os.environ})
if PROJECT not in sys.path:
    sys.path.append(PROJECT)

from app.Jobs.Job import Job  # noqa: E402


class JobSpans:
    """With OURQ_JOB_SPANS=<file> in the worker's environment: each `def handle` job's start and end
    (time.perf_counter, CLOCK_MONOTONIC, comparable with another process's) per thread, written to
    the file as JSON at exit. bench/peers/cpu_probe.py --gaps reads it: the time a slot thread spends
    between the end of one job and the start of its next (settling, the ack and claim round trip, starting)."""

    def __init__(self, path: str) -> None:
        import atexit
        import threading

        self.path = path
        self.spans: dict[int, list[tuple[float, float]]] = {}
        self._ident = threading.get_ident
        atexit.register(self.write)

    def record(self, started: float, ended: float) -> None:
        self.spans.setdefault(self._ident(), []).append((started, ended))  # one list per thread: no lock

    def write(self) -> None:
        import json

        with open(self.path, "w") as out:
            json.dump(list(self.spans.values()), out)


_SPANS = JobSpans(os.environ["OURQ_JOB_SPANS"]) if os.environ.get("OURQ_JOB_SPANS") else None


class NoopJob(Job):
    queue = "bench"

    def __init__(self, t: float = 0.0) -> None:
        super().__init__()
        self.t = t

    def handle(self) -> None:
        if _SPANS is None:
            job_body(counter_client(URL), self.t)
            return
        started = time.perf_counter()
        job_body(counter_client(URL), self.t)
        _SPANS.record(started, time.perf_counter())


_aclient = None


class AsyncNoopJob(Job):
    queue = "bench"

    def __init__(self, t: float = 0.0) -> None:
        super().__init__()
        self.t = t

    async def handle(self) -> None:
        global _aclient
        if _aclient is None:  # made on the worker's event loop, which lives as long as the worker
            import redis.asyncio

            # 500 tasks at once: they wait for one of 64 connections rather than fail (a plain pool refuses)
            pool = redis.asyncio.BlockingConnectionPool.from_url(URL, max_connections=64)
            _aclient = redis.asyncio.Redis(connection_pool=pool)
        await ajob_body(_aclient, self.t)


class OurQueue(System):
    name = "ourq"
    packages = ("redis", "hiredis", "SQLAlchemy")
    db = DB
    shape = "1 process, 1 job at a time"
    notes = "ourq: this project; `python artisan queue:work redis --queue=bench --quiet` (blocking pop, Lua ack+fetch-next)."

    def open(self) -> None:
        """Create the SQLite tables the worker keeps metrics and failed jobs in (not timed).

        Without them a worker could not write its metrics and would keep them in memory
        (up to 50,000 samples), which would show as RSS growth that a real deployment has not.
        """
        from app.Queue.Database import migrator
        from app.Queue.QueueManager import manager

        qm = manager()
        migrator.upgrade(qm.engine())
        # Boot what the first dispatch would otherwise load inside the timed loop (payload codec and
        # cipher, the connection), as an application does at start-up: ~0.4 s of imports on this
        # machine, which showed as a slow first repeat.
        qm.codec  # noqa: B018 - built on first use
        qm.connection("redis")

    def enqueue(self, t: float = 0.0) -> None:
        NoopJob.dispatch(t)

    def close(self) -> None:
        """Write the dispatches' buffered audit entries now, untimed and while this run's redis-server is up
        (left to the exit, they were flushed after the harness had stopped it: a warning, entries lost)."""
        from app.Audit.AuditTrail import flush
        from app.Queue.QueueManager import manager

        flush(manager())

    def enqueue_many(self, n: int) -> None:
        """One dispatch per job, as the base class; with OURQ_STALL_LOG=<file>, also append the slowest
        single dispatch and the threads alive in the bench process (to find stalls between repeats)."""
        log = os.environ.get("OURQ_STALL_LOG")
        if not log:
            super().enqueue_many(n)
            return
        import threading
        import time

        worst = 0.0
        for _ in range(n):
            started = time.perf_counter()
            NoopJob.dispatch(0.0)
            worst = max(worst, time.perf_counter() - started)
        with open(log, "a") as out:
            out.write(f"{self.name}: {n} dispatches, slowest {worst * 1000:.1f} ms, threads "
                      f"{sorted(t.name for t in threading.enumerate())}\n")

    def worker_cmd(self) -> list[str]:
        return [PYTHON, os.path.join(PROJECT, "artisan"), "queue:work", "redis", "--queue=bench", "--quiet", "--memory=0"]

    def worker_env(self) -> dict[str, str]:
        here = os.path.dirname(os.path.abspath(__file__))
        return {**_env(), "PYTHONPATH": os.pathsep.join([here, PROJECT])}


class OurQueuePrefetch(OurQueue):
    """The same worker in batch mode: 100 jobs reserved per round trip, acks sent without waiting."""

    name = "ourq-prefetch100"
    shape = "1 process, 1 job at a time, 100 reserved ahead"
    notes = "ourq-prefetch100: `queue:work redis --prefetch=100` (batch reservation; each ack still precedes the next job)."

    def worker_cmd(self) -> list[str]:
        return [*super().worker_cmd(), "--prefetch=100"]


class OurQueueThreads32(OurQueue):
    """`def handle` jobs on 32 threads in one worker process."""

    name = "ourq-c32"
    shape = "1 process, 32 threads (--concurrency=32)"
    concurrency = 32
    notes = "ourq-c32: `queue:work redis --concurrency=32` (def handle jobs on 32 threads), for I/O-bound jobs."

    def worker_cmd(self) -> list[str]:
        return [*super().worker_cmd(), f"--concurrency={self.concurrency}"]


class OurQueueThreads32Prefetch64(OurQueueThreads32):
    """The same 32 threads with 64 jobs reserved ahead: each freed slot thread starts the next held job itself."""

    name = "ourq-c32-prefetch64"
    shape = "1 process, 32 threads (--concurrency=32), 64 reserved ahead"
    notes = ("ourq-c32-prefetch64: `queue:work redis --concurrency=32 --prefetch=64` (def handle jobs on 32 threads; "
             "the main thread keeps up to 64 jobs reserved ahead, and a thread whose job ends starts the next one "
             "itself, with no round trip).")

    def worker_cmd(self) -> list[str]:
        return [*super().worker_cmd(), "--prefetch=64"]


class OurQueueAsync32(OurQueueThreads32):
    """`async def handle` jobs as tasks on one event loop, 32 at once."""

    name = "ourq-async32"
    shape = "1 process, 32 asyncio tasks (--concurrency=32)"
    notes = "ourq-async32: `queue:work redis --concurrency=32` with `async def handle` jobs (one event loop)."

    def enqueue(self, t: float = 0.0) -> None:
        AsyncNoopJob.dispatch(t)


class OurQueueAsync500(OurQueueAsync32):
    name = "ourq-async500"
    shape = "1 process, 500 asyncio tasks (--concurrency=500)"
    concurrency = 500
    notes = "ourq-async500: `queue:work redis --concurrency=500` with `async def handle` jobs (one event loop)."


SYSTEMS = [OurQueue(), OurQueuePrefetch(), OurQueueThreads32(), OurQueueThreads32Prefetch64(), OurQueueAsync32(),
           OurQueueAsync500()]
