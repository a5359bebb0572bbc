"""The kill-a-worker-every-second loop shared by the per-driver chaos tests."""
from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from app.Queue.QueueManager import QueueManager
from tests.conftest import read_lines
from tests.fixtures.jobs import RecordJob
from tests.support import stop

Spawn = Callable[[], subprocess.Popen[bytes]]


@dataclass
class ChaosResult:
    kills: int
    done: Counter[str]
    cut_short: int
    seconds: float

    @property
    def duplicates(self) -> int:
        return sum(self.done.values()) - len(self.done)

    def summary(self, label: str, jobs: int) -> str:
        return (f"{label} chaos: {jobs} jobs, 4 workers, {self.kills} SIGKILLs, {len(self.done)} completed, "
                f"{self.duplicates} duplicate completions, {self.cut_short} runs cut short, {self.seconds:.1f} s")


def table_counts(qm: QueueManager) -> tuple[int, int]:
    """Rows left in `jobs` and `failed_jobs` of a SQL store (both must be 0 after a clean run)."""
    with qm.engine().connect() as conn:
        jobs = conn.exec_driver_sql("SELECT COUNT(*) FROM jobs").scalar_one()
        failed = conn.exec_driver_sql("SELECT COUNT(*) FROM failed_jobs").scalar_one()
    return int(jobs), int(failed)


def done_ids(witness: Path) -> Counter[str]:
    """Job ids whose run finished (`done <tag> <id> <attempt>` lines), with how often."""
    return Counter(line.split()[2] for line in read_lines(witness) if line.startswith("done "))


def run_with_kills(spawn: Spawn, witness: Path, jobs: int, deadline: float, workers: int = 4,
                   drained: Callable[[], bool] = lambda: True) -> ChaosResult:
    """Run `workers` processes, SIGKILL one each second and start a replacement until every job is done.

    Then keep the workers (unharmed) until `drained()`: a job that finished just before its
    worker was killed, but was not acked, comes back after its lease and runs again; that
    second run must be counted too, not cut off by stopping the workers first.
    """
    procs = [spawn() for _ in range(workers)]
    started = time.monotonic()
    kills = 0
    try:
        while len(done_ids(witness)) < jobs and time.monotonic() - started < deadline:
            time.sleep(1.0)
            victim = procs.pop(0)
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)
            kills += 1
            procs.append(spawn())
        while (len(done_ids(witness)) < jobs or not drained()) and time.monotonic() - started < deadline + 15:
            time.sleep(0.2)  # the last victims' jobs come back when their leases expire
    finally:
        for proc in procs:
            stop(proc)
    done = done_ids(witness)
    cut_short = sum(1 for line in read_lines(witness) if line.startswith("start ")) - sum(done.values())
    return ChaosResult(kills, done, cut_short, time.monotonic() - started)


class Pusher(threading.Thread):
    """Dispatch a RecordJob every `pause` seconds while the store fails; remember when each acknowledged push returned."""

    def __init__(self, witness: Path, pause: float = 0.005) -> None:
        super().__init__(daemon=True)
        self.witness, self.pause = witness, pause
        self.pushed: list[tuple[float, str]] = []
        self.refused = 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            try:
                job_id = RecordJob.dispatch(str(self.witness), "p")
                self.pushed.append((time.monotonic(), job_id))
            except Exception:  # noqa: BLE001 - the store is down or failing over: refused, not acknowledged
                self.refused += 1
            time.sleep(self.pause)
