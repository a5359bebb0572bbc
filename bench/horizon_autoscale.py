"""Horizon autoscaling vs a fixed pool: drain a burst of short jobs on a throwaway redis-server.

Runs `python artisan horizon` twice on the same burst (default 10,000 jobs of 10 ms):
`auto` balancing from 1 to 8 processes, then `balance=false` with 8 processes, and prints
the time to drain each, the ratio, and the auto run's process count over time (sampled
from the master's record in the store) as a small ASCII plot.
Usage: python -m bench.horizon_autoscale [--jobs 10000] [--ms 10] [--max 8] [--cooldown 1] [--shift 2]
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.jobs import SleepMsJob

ROOT = Path(__file__).resolve().parent.parent


def _configure(env: dict[str, str]) -> None:
    os.environ.update(env)
    from app.Queue.QueueManager import manager
    from config import env as env_mod

    env_mod.reload()
    manager().reset()


def _processes() -> int:
    from app.Horizon.HorizonState import HorizonState
    from app.Queue.QueueManager import manager

    masters = HorizonState(manager().cache).masters()
    return sum(n for m in masters for s in m["supervisors"] for n in s["processes"].values())


def run(mode: str, env: dict[str, str], tmp: Path, args: argparse.Namespace) -> tuple[float, list[tuple[float, int]]]:
    """Start horizon in `mode`, wait for its initial processes, push the burst, time the drain."""
    from app.Queue.QueueManager import manager

    block = {"connection": "redis", "queue": ["bench"], "sleep": 1, "tries": 1, "memory": 0, "timeout": 60,
             "balance": mode, "min_processes": 1, "max_processes": args.max,
             "balance_cooldown": args.cooldown, "balance_max_shift": args.shift}
    config = tmp / f"horizon-{mode}.json"
    config.write_text(json.dumps({"heartbeat": 0.25, "memory_limit": 0, "defaults": {"bench": block}}))
    qm = manager()
    qm.connection("redis").clear("bench")
    proc = subprocess.Popen([sys.executable, str(ROOT / "artisan"), "horizon", f"--name=bench-{mode}"], cwd=ROOT,
                            env={**os.environ, **env, "HORIZON_CONFIG": str(config), "PYTHONPATH": str(ROOT),
                                 "LOG_LEVEL": "WARNING"},
                            start_new_session=True)
    try:
        initial = 1 if mode == "auto" else args.max
        deadline = time.monotonic() + 120
        while _processes() < initial and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(3)  # let the workers finish importing before the clock starts
        qm.bulk([SleepMsJob(args.ms) for _ in range(args.jobs)], queue="bench")
        start = time.monotonic()
        samples: list[tuple[float, int]] = []
        driver = qm.connection("redis")
        while True:
            sizes = driver.sizes("bench")
            samples.append((time.monotonic() - start, _processes()))
            if sizes.pending + sizes.reserved == 0:
                break
            time.sleep(0.25)
        return time.monotonic() - start, samples
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def plot(samples: list[tuple[float, int]], top: int, width: int = 60) -> str:
    """Process count over time as rows of `#`, one row per count from `top` down to 1."""
    if not samples:
        return ""
    end = samples[-1][0] or 1.0
    columns = [0] * width
    for t, n in samples:
        columns[min(width - 1, int(t / end * (width - 1)))] = max(columns[min(width - 1, int(t / end * (width - 1)))], n)
    for i in range(1, width):  # carry the last sample forward over empty columns
        if columns[i] == 0:
            columns[i] = columns[i - 1]
    rows = [f"{level:>2} |" + "".join("#" if c >= level else " " for c in columns) for level in range(top, 0, -1)]
    rows.append("   +" + "-" * width)
    rows.append(f"    0s{'':>{width - 12}}{end:6.1f}s")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--ms", type=float, default=10.0)
    parser.add_argument("--max", type=int, default=8)
    parser.add_argument("--cooldown", type=float, default=1.0)
    parser.add_argument("--shift", type=int, default=2)
    args = parser.parse_args()
    from bench.redis_bench import start_redis

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        try:
            server, port = start_redis(tmp)
        except RuntimeError as exc:
            print(f"horizon autoscale: skipped ({exc})")
            return 0
        env = {"APP_KEY": "base64:" + base64.b64encode(os.urandom(32)).decode(), "APP_ENV_FILE": str(tmp / ".env"),
               "APP_ENV": "bench", "QUEUE_ALLOWED_JOB_MODULES": "app.,bench.", "DB_CONNECTION": "sqlite",
               "DB_DATABASE": str(tmp / "bench.sqlite"), "QUEUE_CONNECTION": "redis", "CACHE_STORE": "redis",
               "REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(port)}
        try:
            _configure(env)
            from app.Queue.Database import migrator
            from app.Queue.QueueManager import manager

            migrator.upgrade(manager().engine())
            print(f"horizon autoscale: {args.jobs} jobs of {args.ms:g} ms on redis; auto 1->{args.max} "
                  f"(cooldown {args.cooldown:g}s, max shift {args.shift}) vs fixed {args.max} processes; "
                  f"{os.cpu_count()} CPUs, shared with whatever else runs")
            auto, samples = run("auto", env, tmp, args)
            fixed, _ = run("false", env, tmp, args)
        finally:
            server.terminate()
            server.wait(10)
    print(f"  auto  1->{args.max}: {auto:6.2f} s to drain ({args.jobs / auto:7.0f} jobs/s)")
    print(f"  fixed {args.max}:    {fixed:6.2f} s to drain ({args.jobs / fixed:7.0f} jobs/s)")
    print(f"  auto / fixed: {auto / fixed:.2f} (target <= 1.20)")
    print("  processes over time (auto):")
    print("\n".join("    " + line for line in plot(samples, args.max).splitlines()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
