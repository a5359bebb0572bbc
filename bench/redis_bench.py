"""The Redis row of `make bench`: a throwaway redis-server on a free loopback port, stopped by pid."""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from bench.harness import Result, run_driver


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redis(tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start redis-server without persistence; raise with an install hint when it is missing."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).exists():
        raise RuntimeError("redis-server not installed: apt-get install redis-server")
    port = _free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.02)
    proc.kill()
    raise RuntimeError(f"redis-server did not start on port {port}")


def _migrate() -> None:
    from app.Queue.Database import migrator
    from app.Queue.QueueManager import manager

    migrator.upgrade(manager().engine())


def bench_redis(tmp: Path, sizes: dict[str, int], rss_marks: tuple[int, ...], base: dict[str, str]) -> Result:
    """Measure the Redis driver (queue and cache store on Redis, as QUEUE_CONNECTION=redis defaults to)."""
    proc, port = start_redis(tmp)
    env = {**base, "QUEUE_CONNECTION": "redis", "CACHE_STORE": "redis", "REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(port),
           "REDIS_URL": "", "REDIS_CLUSTER": "", "REDIS_TLS_CA": ""}  # another row's settings must not leak in
    try:
        # A database is configured by default beside Redis (failed jobs, batches, metrics): migrate it.
        return run_driver("redis", "redis", env, sizes, _migrate, worker_args=["--sleep=3"], rss_marks=rss_marks)
    finally:
        proc.terminate()
        proc.wait(10)
