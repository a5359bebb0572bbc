"""This project's PostgreSQL driver and procrastinate side by side, in one run, on one throwaway server.

Same no-op job, one worker process each, default settings each (procrastinate: LISTEN/NOTIFY,
concurrency 1, jobs kept after success, its default; ours: LISTEN/NOTIFY, --sleep=3 as the
safety net). Run through bench/peers/procrastinate.sh, which makes the environment that has
procrastinate (it is not a project dependency). Prints one markdown table.
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.harness import (  # noqa: E402
    PREFETCH,
    fmt,
    measure_dispatch,
    measure_latency,
    measure_processing,
)


def ours(server: Any, tmp: Path, sizes: dict[str, int]) -> dict[str, float]:
    """Our figures: dispatch, steady processing (default and --prefetch), latency."""
    from app.Queue.Database import migrator
    from app.Queue.QueueManager import manager
    from bench.__main__ import base_env
    from config import env as env_mod

    server.create_database("ours")
    env = {**base_env(tmp), **server.env("ours")}
    os.environ.update(env)
    env_mod.reload()
    qm = manager()
    qm.reset()
    migrator.upgrade(qm.engine())
    driver = qm.connection("database")
    out = {"dispatch": measure_dispatch(qm, "database", sizes["dispatch"])}
    driver.clear("bench")
    out["steady"] = measure_processing(qm, "database", env, sizes["process"])[1]
    driver.clear("bench")
    out["prefetch"] = measure_processing(qm, "database", env, sizes["process"], worker_args=[f"--prefetch={PREFETCH}"])[1]
    driver.clear("bench")
    out["p50"], out["p99"] = measure_latency(qm, "database", env, sizes["latency"])
    qm.reset()
    return out


def theirs(server: Any, sizes: dict[str, int]) -> dict[str, float]:
    """procrastinate's figures, measured the same way."""
    server.create_database("procrastinate")
    dsn = f"postgresql://{server.user}:{server.password}@{server.host}:{server.port}/procrastinate"
    os.environ["PROCRASTINATE_DSN"] = dsn
    from bench.peers.procrastinate_app import app, latency, noop

    env = {**os.environ, "PYTHONPATH": str(ROOT), "PROCRASTINATE_DSN": dsn}
    out: dict[str, float] = {}
    with app.open():
        app.schema_manager.apply_schema()
        start = time.perf_counter()
        for _ in range(sizes["dispatch"]):
            noop.defer()
        out["dispatch"] = sizes["dispatch"] / (time.perf_counter() - start)
        with server.connect("procrastinate") as conn:
            conn.execute("DELETE FROM procrastinate_jobs")
            for offset in range(0, sizes["process"], 1000):
                noop.batch_defer(*[{} for _ in range(min(1000, sizes["process"] - offset))])
            out["steady"] = _steady(lambda: _todo(conn), sizes["process"], env)
            conn.execute("DELETE FROM procrastinate_jobs")
            out["p50"], out["p99"] = _latency(lambda t, port: latency.defer(sent=t, port=port), sizes["latency"], env)
    return out


def _todo(conn: Any) -> int:
    return int(conn.execute("SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')").fetchone()[0])


def _worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "procrastinate", "--app=bench.peers.procrastinate_app.app", "worker",
                             "--queues=bench", "--concurrency=1"], cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _steady(left: Callable[[], int], n: int, env: dict[str, str]) -> float:
    """Jobs/s between 10 % and 90 % done, as bench.harness.steady_rate measures ours."""
    from bench.harness import steady_rate

    proc = _worker(env)
    samples: list[tuple[float, int]] = []
    started = time.perf_counter()
    try:
        while True:
            remaining = left()
            samples.append((time.perf_counter(), n - remaining))
            if remaining == 0 or time.perf_counter() - started > 900:
                break
            time.sleep(0.02)
    finally:
        _stop(proc)
    return steady_rate(samples, n)


def _latency(defer: Callable[[float, int], Any], samples: int, env: dict[str, str], gap: float = 0.01) -> tuple[float, float]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(30)
    port = sock.getsockname()[1]
    proc = _worker(env)
    values: list[float] = []
    try:
        for i in range(samples + 5):
            defer(time.time(), port)
            elapsed = float(sock.recv(64))
            if i >= 5:
                values.append(elapsed * 1000)
            time.sleep(random.uniform(0.5, 1.5) * gap)
    finally:
        _stop(proc)
        sock.close()
    values.sort()
    return statistics.median(values), values[min(len(values) - 1, int(len(values) * 0.99))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sizes = {"dispatch": 2_000, "process": 5_000, "latency": 200} if args.quick else \
            {"dispatch": 5_000, "process": 20_000, "latency": 500}
    from tests.servers_pgsql import running_postgres

    with running_postgres() as server, tempfile.TemporaryDirectory(prefix="bench-vs-procrastinate-") as tmp:
        print("measuring ours ...", file=sys.stderr, flush=True)
        a = ours(server, Path(tmp), sizes)
        print("measuring procrastinate ...", file=sys.stderr, flush=True)
        b = theirs(server, sizes)
    from importlib.metadata import version

    print(f"\nPostgreSQL 15 (fsync=off, synchronous_commit=off), one worker, no-op job; N: dispatch {sizes['dispatch']:,}, "
          f"process {sizes['process']:,}, latency {sizes['latency']} samples\n")
    print(f"| system | dispatch jobs/s | steady jobs/s | steady --prefetch={PREFETCH} | p50 ms | p99 ms |")
    print("|---|--:|--:|--:|--:|--:|")
    print(f"| this project (pgsql) | {fmt(a['dispatch'])} | {fmt(a['steady'])} | {fmt(a['prefetch'])} "
          f"| {fmt(a['p50'], '.2f')} | {fmt(a['p99'], '.2f')} |")
    print(f"| procrastinate {version('procrastinate')} | {fmt(b['dispatch'])} | {fmt(b['steady'])} | — "
          f"| {fmt(b['p50'], '.2f')} | {fmt(b['p99'], '.2f')} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
