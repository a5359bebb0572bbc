"""Chaos under `--concurrency`: 2,000 sleeping jobs, two workers of 16 slots each, one SIGKILLed every 2.5 s.

No job is lost, and a job runs twice only if it was in flight (running, or finished but
not yet acked) in a killed worker: at most 16 per kill.
"""
from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import read_lines
from app.Queue.QueueManager import QueueManager
from tests.drivers.conftest import BACKEND_SETUP, BACKENDS, Backend
from tests.fixtures.concurrency_jobs import SleepSpanJob
from tests.support import start_worker, stop

pytestmark = pytest.mark.slow

JOBS = 2000
CONCURRENCY = 16
DEADLINE = 120.0


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, queue_env: QueueManager, monkeypatch: pytest.MonkeyPatch) -> Backend:
    """The per-driver backend of tests/drivers, here for the reliability tests."""
    return BACKEND_SETUP[request.param](request, queue_env, monkeypatch)


def _runs(witness: Path) -> Counter[str]:
    return Counter(line.split()[2] for line in read_lines(witness) if line.startswith("run "))


def test_sigkilled_concurrent_workers_lose_no_job(store: Backend, tmp_path: Path, witness: Path):
    ids = set(store.manager.bulk([SleepSpanJob(str(witness), 0.05, "c") for _ in range(JOBS)]))
    env = {**store.env, "QUEUE_RETRY_AFTER": "3"}
    spawned = iter(range(1000))

    def spawn() -> subprocess.Popen[bytes]:
        return start_worker([store.connection, "--sleep=0.2", "--tries=0", f"--concurrency={CONCURRENCY}",
                             f"--name=chaos{next(spawned)}"], env=env, log=tmp_path / "workers.log")

    procs = [spawn(), spawn()]
    started = time.monotonic()
    kills = 0
    try:
        while len(_runs(witness)) < JOBS and time.monotonic() - started < DEADLINE and kills < 4:
            time.sleep(2.5)  # a fresh worker takes a second or two to start on a loaded box
            victim = procs.pop(0)
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)
            kills += 1
            procs.append(spawn())
        while time.monotonic() - started < DEADLINE + 30:
            store.manager.reset()
            if len(_runs(witness)) >= JOBS and store.driver().sizes("default").total == 0:
                break
            time.sleep(0.3)
    finally:
        for proc in procs:
            stop(proc)
    runs = _runs(witness)
    duplicates = sum(runs.values()) - len(runs)
    cut_short = sum(1 for line in read_lines(witness) if line.startswith("begin ")) - sum(runs.values())
    print(f"{store.name} concurrency chaos: {JOBS} jobs, 2 workers x {CONCURRENCY}, {kills} SIGKILLs, "
          f"{len(runs)} completed, {duplicates} duplicates, {cut_short} runs cut short, {time.monotonic() - started:.1f} s")
    assert kills >= 1 and cut_short >= 1  # the kills did land mid-job
    assert set(runs) == ids  # none lost
    assert duplicates <= kills * CONCURRENCY
