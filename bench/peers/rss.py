"""Worker RSS at rest and after N jobs, for rows of ../shared/bench-peers, measured the same way for each.

Run from the harness copy (bench/peers/run.sh makes it), with its venv:
  cd storage/bench-peers && OURQ_PROJECT=$PWD/../.. .venv/bin/python rss.py --systems ourq-c32,dramatiq-t32 --jobs 100000
Per row: FLUSHDB, start one worker, wait 3 s (at rest), enqueue N no-op jobs with the row's
public API, wait until all are done, then read RSS again. RSS is the sum over the worker's
process group (a CLI that forks counts whole). A redis-server on port 6391 is started and stopped.
"""
from __future__ import annotations

import argparse
import importlib
import os
import signal
import subprocess
import sys
import time

PORT = 6391
os.environ["BENCH_REDIS_BASE"] = f"redis://127.0.0.1:{PORT}"
os.environ.pop("BENCH_JOB_IO_MS", None)  # no-op jobs: memory, not waiting, is measured here
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import redis  # noqa: E402

from common import DONE_KEY  # noqa: E402

MODULES = ("ourq_sys", "dramatiq_sys", "huey_sys", "celery_sys", "arq_sys", "rq_sys")


def group_rss_mb(pgid: int) -> float:
    """Sum VmRSS of every process in the group `pgid`."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.getpgid(int(pid)) != pgid:
                continue
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except (OSError, ProcessLookupError):
            continue
    return total / 1024


def systems(names: list[str]) -> list[object]:
    found = {}
    for module in MODULES:
        try:
            for s in importlib.import_module(module).SYSTEMS:
                found[s.name] = s
        except Exception as exc:  # a peer that is not installed is skipped
            print(f"skip {module}: {exc}", file=sys.stderr)
    return [found[n] for n in names]


def measure(system: object, jobs: int) -> tuple[float, float]:
    client = redis.Redis(host="127.0.0.1", port=PORT, db=system.db)  # type: ignore[attr-defined]
    client.flushdb()
    system.open()  # type: ignore[attr-defined]
    env = {**os.environ, **system.worker_env(), "PYTHONPATH": HERE}  # type: ignore[attr-defined]
    proc = subprocess.Popen(system.worker_cmd(), cwd=HERE, env=env, start_new_session=True,  # type: ignore[attr-defined]
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(3.0)
        at_rest = group_rss_mb(proc.pid)
        many = getattr(system, "enqueue_many", None)
        if many is not None:
            many(jobs)
        else:
            for _ in range(jobs):
                system.enqueue(0.0)  # type: ignore[attr-defined]
        deadline = time.monotonic() + 900
        while int(client.get(DONE_KEY) or 0) < jobs and time.monotonic() < deadline:
            time.sleep(0.2)
        after = group_rss_mb(proc.pid)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        system.close()  # type: ignore[attr-defined]
    return at_rest, after


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--systems", default="ourq-c32,dramatiq-t32,huey-t32")
    parser.add_argument("--jobs", type=int, default=100_000)
    args = parser.parse_args()
    server = subprocess.Popen(["redis-server", "--port", str(PORT), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no"], stdout=subprocess.DEVNULL)
    time.sleep(0.5)
    try:
        print(f"| row | RSS MB at rest | RSS MB after {args.jobs:,} no-op jobs | growth MB |")
        print("|---|--:|--:|--:|")
        for system in systems([s.strip() for s in args.systems.split(",") if s.strip()]):
            rest, after = measure(system, args.jobs)
            print(f"| {system.name} | {rest:.1f} | {after:.1f} | {after - rest:+.1f} |", flush=True)  # type: ignore[attr-defined]
    finally:
        server.terminate()
        server.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
