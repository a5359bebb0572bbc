"""Helpers for batch and chain tests that run two real worker processes against a backend."""
from __future__ import annotations

import contextlib
import signal
from pathlib import Path
from typing import Iterator

from tests.conftest import read_lines
from tests.drivers.conftest import Backend
from tests.support import start_worker, stop


@contextlib.contextmanager
def workers(backend: Backend, tmp_path: Path, count: int = 2, retry_after: int = 30) -> Iterator[list]:
    """Run `count` queue:work processes on the backend's connection; stop them (by pid) afterwards."""
    env = {**backend.env, "QUEUE_RETRY_AFTER": str(retry_after)}
    procs = [start_worker([backend.connection, "--sleep=0.05", "--tries=1"], env=env, log=tmp_path / f"worker{i}.log")
             for i in range(count)]
    try:
        yield procs
    finally:
        for proc in procs:
            stop(proc, signal.SIGTERM, timeout=10)


def lines_starting(path: Path, prefix: str) -> list[str]:
    return [line for line in read_lines(path) if line.startswith(prefix)]
