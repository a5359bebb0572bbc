"""Jobs used by the benchmarks (importable by worker processes: allowed module prefix `bench.`)."""
from __future__ import annotations

import socket
import time

from app.Jobs.Job import Job

_sock: socket.socket | None = None


class NoopJob(Job):
    """Does nothing: measures the framework's own cost per job."""

    def handle(self) -> None:
        return None


class LatencyJob(Job):
    """Report dispatch→start latency to the benchmark over UDP as its first action."""

    def __init__(self, t0: float, port: int) -> None:
        super().__init__()
        self.t0 = t0
        self.port = port

    def handle(self) -> None:
        global _sock
        elapsed = time.time() - self.t0
        if _sock is None:
            _sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        _sock.sendto(repr(elapsed).encode(), ("127.0.0.1", self.port))


class IoJob(Job):
    """Wait 20 ms on its thread, as a job calling a remote API would (the CPU is free meanwhile)."""

    def handle(self) -> None:
        time.sleep(0.02)


class AsyncIoJob(Job):
    """Await 20 ms, as an async job calling a remote API would."""

    async def handle(self) -> None:
        import asyncio

        await asyncio.sleep(0.02)


class SleepMsJob(Job):
    """Sleeps `ms` milliseconds: a short I/O-bound job (horizon autoscaling benchmark)."""

    def __init__(self, ms: float) -> None:
        super().__init__()
        self.ms = ms

    def handle(self) -> None:
        time.sleep(self.ms / 1000)
