"""SIGKILL of a worker with many async jobs in flight loses none of them.

Async jobs are claimed in batches, started together, settled in batches by a thread that may
pause between them, and acked by another thread in one write per batch: at a kill, jobs can be
claimed but not started, running, or finished but not acked. Every one of them must come back
after its lease; only jobs in flight at the kill may run twice.
"""
from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.conftest import read_lines
from tests.drivers.batch_support import lines_starting
from tests.drivers.conftest import Backend
from tests.fixtures.concurrency_jobs import AsyncSleepSpanJob, intervals
from tests.support import start_worker, stop, wait_until

pytestmark = pytest.mark.slow

SLOTS = 32


def _worker(backend: Backend, tmp_path: Path, name: str):
    env = {**backend.env, "QUEUE_RETRY_AFTER": "2"}
    return start_worker([backend.connection, "--sleep=0.05", f"--concurrency={SLOTS}"], env=env,
                        log=tmp_path / f"{name}.log")


def test_sigkill_with_async_jobs_in_flight_loses_none(backend: Backend, tmp_path: Path, witness: Path):
    ids = [AsyncSleepSpanJob.dispatch(str(witness), 0.3) for _ in range(120)]
    proc = _worker(backend, tmp_path, "first")
    try:
        # some jobs done (their acks batched), others running: the kill lands mid-stream
        assert wait_until(lambda: len(intervals(read_lines(witness))) >= 20, 60)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        stop(proc)
    proc = _worker(backend, tmp_path, "second")
    try:
        assert wait_until(lambda: set(intervals(read_lines(witness))) == set(ids), 90)
        backend.manager.reset()
        assert wait_until(lambda: backend.driver().sizes("default").total == 0, 30)
    finally:
        assert stop(proc) == 0
    runs = [line.split()[2] for line in lines_starting(witness, "run ")]
    assert len(runs) - len(set(runs)) <= SLOTS  # duplicates only among the jobs in flight at the kill
