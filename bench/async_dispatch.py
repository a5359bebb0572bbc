"""`python -m bench.async_dispatch`: what app.Queue.aio costs and whether the event loop stays free.

Per driver (SQLite file, throwaway redis-server): push rate of the sync `queue.push`, of
`await aio.queue.push` one after another, and of N pushes awaited together (gather); for
both async runs, the longest time a 1 ms ticker on the same loop was kept waiting. A push
that blocked on I/O would hold the loop for its round trip; what remains is CPU work on
the loop (building and signing payloads: gather starts N of them before the ticker runs again).
"""
from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

N = int(os.environ.get("BENCH_ASYNC_N", "2000"))


def _configure(env: dict[str, str]) -> Any:
    from app.Queue.Database import migrator
    from app.Queue.QueueManager import manager
    from config import env as env_mod

    os.environ.update(env)
    env_mod.reload()
    qm = manager()
    qm.reset()
    migrator.upgrade(qm.engine())
    return qm


class _Ticker:
    """A 1 ms ticker on the loop; `longest` is the longest time the loop kept it waiting."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._done = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> _Ticker:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self._done.set()
        assert self._task is not None
        await self._task

    async def _run(self) -> None:
        last = time.perf_counter()
        while not self._done.is_set():
            await asyncio.sleep(0.001)
            t = time.perf_counter()
            self.longest = max(self.longest, t - last - 0.001)
            last = t


async def _measure_async(n: int) -> tuple[float, float, float, float]:
    from app.Jobs.Examples.SendEmailJob import SendEmailJob
    from app.Queue import aio

    jobs = [SendEmailJob("a@b.c", "s", "b") for _ in range(n)]
    async with _Ticker() as one_by_one:
        t = time.perf_counter()
        for job in jobs:
            await aio.queue.push(job)
        sequential = n / (time.perf_counter() - t)
    async with _Ticker() as together:
        t = time.perf_counter()
        await asyncio.gather(*(aio.queue.push(SendEmailJob("a@b.c", "s", "b")) for _ in range(n)))
        concurrent = n / (time.perf_counter() - t)
    await aio.queue.aclose()
    return sequential, one_by_one.longest * 1000, concurrent, together.longest * 1000


def _measure(name: str) -> None:
    from app.Jobs.Examples.SendEmailJob import SendEmailJob
    from app.Queue.QueueManager import queue

    t = time.perf_counter()
    for _ in range(N):
        queue.push(SendEmailJob("a@b.c", "s", "b"))
    sync_rate = N / (time.perf_counter() - t)
    sequential, gap_seq, concurrent, gap_all = asyncio.run(_measure_async(N))
    print(f"{name:<7} sync push {sync_rate:>7,.0f}/s | await push {sequential:>7,.0f}/s, loop held <= {gap_seq:5.1f} ms "
          f"| gather({N}) {concurrent:>7,.0f}/s, loop held <= {gap_all:6.1f} ms")


def main() -> int:
    from bench.redis_bench import start_redis

    with tempfile.TemporaryDirectory() as tmp:
        base = {"APP_KEY": "base64:" + "a" * 43 + "=", "DB_CONNECTION": "sqlite",
                "DB_DATABASE": str(Path(tmp) / "bench.sqlite"), "QUEUE_ALLOWED_JOB_MODULES": "app."}
        _configure({**base, "QUEUE_CONNECTION": "database", "CACHE_STORE": "database"})
        _measure("sqlite")
        proc, port = start_redis(Path(tmp))
        try:
            _configure({**base, "QUEUE_CONNECTION": "redis", "CACHE_STORE": "redis", "REDIS_HOST": "127.0.0.1",
                        "REDIS_PORT": str(port)})
            _measure("redis")
        finally:
            proc.terminate()
            proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
