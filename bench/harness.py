"""Measure one driver: dispatch, bulk dispatch, one worker's throughput, latency and RSS."""
from __future__ import annotations

import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from app.Queue.QueueManager import QueueManager, manager

ROOT = Path(__file__).resolve().parent.parent
PREFETCH = 100  # batch size of the batch-reservation row
POLL_EVERY = 0.02  # seconds between progress probes, at least
PROBE_SHARE = 0.05  # at most: the part of the wall time a progress probe may run (see measure_processing)


@dataclass
class Result:
    """Figures for one driver (None: not measured)."""

    driver: str
    dispatch_per_s: float | None = None
    bulk_per_s: float | None = None
    process_per_s: float | None = None
    steady_per_s: float | None = None
    prefetch_per_s: float | None = None  # steady jobs/s of a worker started with --prefetch=PREFETCH
    p50_ms: float | None = None
    p99_ms: float | None = None
    rss_mb: dict[int, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    concurrency: Any = None  # bench.concurrency.ConcurrencyRows


def rss_of(pid: int) -> float:
    """Resident memory of a process in MB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def start_worker(connection: str, env: dict[str, str], extra: list[str]) -> subprocess.Popen[bytes]:
    """One worker process, quiet, as a user would run it."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / "artisan"), "queue:work", connection, "--queue=bench", "--quiet", "--memory=0", *extra],
        cwd=ROOT, env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def measure_dispatch(qm: QueueManager, connection: str, n: int) -> float:
    from bench.jobs import NoopJob

    start = time.perf_counter()
    for _ in range(n):
        qm.push(NoopJob(), "bench", connection)
    return n / (time.perf_counter() - start)


def measure_bulk(qm: QueueManager, connection: str, n: int, chunk: int = 1000) -> float:
    from bench.jobs import NoopJob

    start = time.perf_counter()
    for offset in range(0, n, chunk):
        qm.bulk([NoopJob() for _ in range(min(chunk, n - offset))], "bench", connection)
    return n / (time.perf_counter() - start)


def fill(qm: QueueManager, connection: str, n: int) -> None:
    from bench.jobs import NoopJob

    for offset in range(0, n, 1000):
        qm.bulk([NoopJob() for _ in range(min(1000, n - offset))], "bench", connection)


def measure_processing(qm: QueueManager, connection: str, env: dict[str, str], n: int,
                       rss_marks: tuple[int, ...] = (), worker_args: list[str] | None = None,
                       fill_with: Callable[[int], None] | None = None) -> tuple[float, float, dict[int, float]]:
    """Fill the queue with n no-op jobs (or `fill_with(n)`), start one worker, time it to empty; sample RSS at marks.

    Progress is the driver's own count of jobs left (`sizes`), probed every POLL_EVERY seconds, or less
    often when a probe is slow: on a database it is a scan of the queue's index, 6 ms of server CPU at
    20,000 rows, which every 20 ms took a tenth of a two-core machine from the worker and the server it
    measures. The pause after a probe is therefore at least (1 / PROBE_SHARE - 1) times the probe's own
    time, so probing keeps at most PROBE_SHARE of the wall time busy. It measures the same thing: the same
    count, timed the same way; steady_rate interpolates between the (now sparser) samples, whose spacing
    stays a few per cent of the 10-90 % window.
    """
    (fill_with or (lambda count: fill(qm, connection, count)))(n)
    driver = qm.connection(connection)
    marks = sorted(rss_marks)
    rss: dict[int, float] = {}
    samples: list[tuple[float, int]] = []
    proc = start_worker(connection, env, worker_args or [])
    started = time.perf_counter()
    try:
        while True:
            probed = time.perf_counter()
            left = driver.sizes("bench").total
            done = n - left
            t = time.perf_counter()
            samples.append((t, done))
            while marks and done >= marks[0]:
                rss[marks.pop(0)] = rss_of(proc.pid)
            if left == 0:
                break
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited early: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
            if t - started > 900:
                raise RuntimeError("worker too slow: gave up after 900 s")
            time.sleep(max(POLL_EVERY, (t - probed) * (1 / PROBE_SHARE - 1)))
        total = time.perf_counter() - started
    finally:
        stop_worker(proc)
    return n / total, steady_rate(samples, n), rss


def steady_rate(samples: list[tuple[float, int]], n: int) -> float:
    """Jobs/s between 10 % and 90 % done (linear interpolation of the polled counts)."""
    def time_at(target: float) -> float:
        for (t0, d0), (t1, d1) in zip(samples, samples[1:]):
            if d1 >= target:
                return t0 if d1 == d0 else t0 + (t1 - t0) * (target - d0) / (d1 - d0)
        return samples[-1][0]

    t10, t90 = time_at(0.1 * n), time_at(0.9 * n)
    return 0.8 * n / (t90 - t10) if t90 > t10 else float("nan")


def measure_latency(qm: QueueManager, connection: str, env: dict[str, str], samples: int,
                    worker_args: list[str] | None = None, gap: float = 0.01) -> tuple[float, float]:
    """p50/p99 of dispatch→start, one job at a time to an idle worker."""
    from bench.jobs import LatencyJob

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(30)
    port = sock.getsockname()[1]
    proc = start_worker(connection, env, worker_args or [])
    values: list[float] = []
    try:
        for i in range(samples + 5):
            qm.push(LatencyJob(time.time(), port), "bench", connection)
            elapsed = float(sock.recv(64))
            if i >= 5:  # warm-up: imports and connections of the first jobs
                values.append(elapsed * 1000)
            time.sleep(random.uniform(0.5, 1.5) * gap)  # a fixed gap can phase-lock with a polling worker's --sleep
    finally:
        stop_worker(proc)
        sock.close()
    values.sort()
    return statistics.median(values), values[min(len(values) - 1, int(len(values) * 0.99))]


def run_driver(name: str, connection: str, env: dict[str, str], sizes: dict[str, int],
               prepare: Callable[[], None], worker_args: list[str] | None = None,
               rss_marks: tuple[int, ...] = ()) -> Result:
    """Measure one driver with the environment `env` applied to this process and its workers."""
    from config import env as env_mod

    os.environ.update(env)
    env_mod.reload()
    qm = manager()
    qm.reset()
    prepare()
    result = Result(name)
    driver = qm.connection(connection)
    driver.clear("bench")
    result.dispatch_per_s = measure_dispatch(qm, connection, sizes["dispatch"])
    driver.clear("bench")
    result.bulk_per_s = measure_bulk(qm, connection, sizes["bulk"])
    driver.clear("bench")
    result.process_per_s, result.steady_per_s, _ = measure_processing(qm, connection, env, sizes["process"], worker_args=worker_args)
    driver.clear("bench")
    _, result.prefetch_per_s, _ = measure_processing(qm, connection, env, sizes["process"],
                                                     worker_args=[*(worker_args or []), f"--prefetch={PREFETCH}"])
    if rss_marks:
        driver.clear("bench")
        _, _, result.rss_mb = measure_processing(qm, connection, env, max(rss_marks), rss_marks, worker_args)
    driver.clear("bench")
    result.p50_ms, result.p99_ms = measure_latency(qm, connection, env, sizes["latency"], worker_args)
    driver.clear("bench")
    if sizes.get("io"):
        from bench.concurrency import measure_concurrency

        result.concurrency = measure_concurrency(qm, connection, env, worker_args or [], sizes, max(rss_marks or (sizes["process"],)))
    qm.reset()
    return result


def fmt(value: Any, spec: str = ",.0f") -> str:
    return "—" if value is None else format(value, spec)
