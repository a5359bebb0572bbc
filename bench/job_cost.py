"""Cost of one job in a Redis worker: CPU µs per job, or instructions per job under callgrind.

`make bench`'s wall figures move with whatever else runs on the machine; the worker's own CPU
time and instruction count per job do not move as much. Each run fills the `bench` queue with N
no-op jobs (bench.jobs.NoopJob), runs `queue:work redis --stop-when-empty` to drain it and reads
the worker's CPU seconds (or callgrind's instruction total, every thread); the start-up cost
cancels out of the difference of two sizes: per job = (X(n2) - X(n1)) / (n2 - n1).

    .venv/bin/python -m bench.job_cost --port 6405 --n 2000,12000 --repeats 3
    .venv/bin/python -m bench.job_cost --port 6405 --prefetch 100 --callgrind --n 300,1500

It starts its own redis-server on --port (use your own: two runs on one port corrupt each other).
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _start_redis(port: int, tmp: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    import socket

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.02)
    proc.kill()
    raise SystemExit(f"redis-server did not start on port {port}")


def _worker_cmd(prefetch: int, callgrind: Path | None) -> list[str]:
    cmd = [sys.executable, str(ROOT / "artisan"), "queue:work", "redis", "--queue=bench", "--quiet", "--memory=0",
           "--sleep=3", "--stop-when-empty"]
    if prefetch > 1:
        cmd.append(f"--prefetch={prefetch}")
    if callgrind is not None:
        cmd = ["valgrind", "--tool=callgrind", "--dump-instr=no", "--separate-threads=yes",
               f"--callgrind-out-file={callgrind}", *cmd]
    return cmd


def _instructions(out: Path) -> tuple[int, int]:
    """Callgrind's instruction totals of every thread, and of the main thread (`--separate-threads`: one file each)."""
    per_thread: dict[int, int] = {}
    for path in out.parent.glob(out.name + "*"):
        for line in path.read_text().splitlines():
            if line.startswith(("totals:", "summary:")):
                per_thread[int(path.name.rsplit("-", 1)[-1]) if "-" in path.name else 1] = int(line.split()[1])
                break
        path.unlink()
    if not per_thread:
        raise RuntimeError(f"no totals in {out}*")
    return sum(per_thread.values()), per_thread[min(per_thread)]


def one_run(n: int, prefetch: int, env: dict[str, str], callgrind: Path | None) -> tuple[float, float]:
    """Fill n jobs, drain them with one worker; its CPU seconds (twice), or instructions under callgrind
    (every thread, main thread)."""
    from app.Queue.QueueManager import manager
    from bench.harness import fill

    qm = manager()
    qm.connection("redis").clear("bench")
    fill(qm, "redis", n)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(_worker_cmd(prefetch, callgrind), cwd=ROOT, env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"worker exited {proc.returncode}: {proc.stderr.decode()[-2000:]}")
    left = qm.connection("redis").sizes("bench").total
    if left:
        raise RuntimeError(f"{left} jobs left after the worker stopped")
    if callgrind is not None:
        every, main = _instructions(callgrind)
        return float(every), float(main)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return cpu, cpu


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.job_cost", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True, help="the redis-server this run starts")
    ap.add_argument("--n", default="2000,12000", help="the two queue sizes, n1,n2")
    ap.add_argument("--prefetch", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--callgrind", action="store_true", help="count instructions (every thread) instead of CPU time")
    args = ap.parse_args(argv)
    n1, n2 = (int(x) for x in args.n.split(","))
    from bench.__main__ import base_env
    from config import env as env_mod

    with tempfile.TemporaryDirectory(prefix="job-cost-") as tmp_name:
        tmp = Path(tmp_name)
        server = _start_redis(args.port, tmp)
        try:
            env = {**base_env(tmp), "QUEUE_CONNECTION": "redis", "CACHE_STORE": "redis", "REDIS_HOST": "127.0.0.1",
                   "REDIS_PORT": str(args.port), "REDIS_URL": "", "REDIS_CLUSTER": "", "REDIS_TLS_CA": ""}
            os.environ.update(env)
            env_mod.reload()
            from app.Queue.Database import migrator
            from app.Queue.QueueManager import manager

            manager().reset()
            migrator.upgrade(manager().engine())
            per_job: list[float] = []
            scale = 1 if args.callgrind else 1e6
            for _ in range(args.repeats):
                out = tmp / "callgrind.out" if args.callgrind else None
                small = one_run(n1, args.prefetch, env, out)
                big = one_run(n2, args.prefetch, env, out)
                value = (big[0] - small[0]) / (n2 - n1)
                per_job.append(value)
                if args.callgrind:
                    main_thread = (big[1] - small[1]) / (n2 - n1)
                    print(f"{value:,.0f} instructions/job (main thread {main_thread:,.0f})", flush=True)
                else:
                    print(f"{value * scale:,.1f} CPU us/job", flush=True)
            print(f"median {statistics.median(per_job) * scale:,.1f} of {[round(v * scale, 1) for v in per_job]}")
        finally:
            manager().reset()
            server.terminate()
            server.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
