"""Invariant 1 on the SQL servers (MariaDB, PostgreSQL) with real worker processes: SIGKILLed workers.

Four workers share 2,000 sleeping jobs; one is SIGKILLed every second and replaced. Every job
completes, no more duplicate runs than kills, and the tables end empty. The server-specific
cases (8 racing workers on MariaDB; a PostgreSQL restart and LISTEN/NOTIFY) live beside this.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from app.Queue.QueueManager import QueueManager
from tests.fixtures.jobs import SleepJob
from tests.reliability.chaos import run_with_kills, table_counts
from tests.servers_mariadb import use_mariadb
from tests.servers_pgsql import use_pgsql
from tests.support import start_worker

pytestmark = pytest.mark.slow

JOBS = 2000
DEADLINE = 60.0
SERVERS = {"mariadb": use_mariadb, "pgsql": use_pgsql}


@pytest.mark.parametrize("prefetch", [1, 20], ids=["one-at-a-time", "prefetch-20"])
@pytest.mark.parametrize("server", sorted(SERVERS))
def test_sigkilled_workers_lose_no_job_and_duplicate_at_most_one_per_kill(
        server: str, prefetch: int, request: pytest.FixtureRequest, queue_env: QueueManager,
        monkeypatch: pytest.MonkeyPatch, witness: Path, tmp_path: Path):
    env = SERVERS[server](request.getfixturevalue(f"{server}_server"), request.getfixturevalue(f"{server}_database"),
                          monkeypatch)
    qm = queue_env
    ids = set(qm.bulk([SleepJob(str(witness), 0.02, "c") for _ in range(JOBS)]))
    env = {**env, "QUEUE_RETRY_AFTER": "5"}  # renewed every 1.7 s; 5 s tolerates a loaded 2-core CI box
    spawned = iter(range(1000))

    def spawn() -> subprocess.Popen[bytes]:
        return start_worker(["database", "--sleep=0.2", "--tries=0", f"--prefetch={prefetch}", f"--name=c{next(spawned)}"],
                            env=env, log=tmp_path / "workers.log")

    result = run_with_kills(spawn, witness, JOBS, DEADLINE, drained=lambda: qm.size("default", "database") == 0)
    print("\n" + result.summary(f"{server} --prefetch={prefetch}", JOBS))
    assert set(result.done) == ids
    assert result.duplicates <= result.kills
    assert table_counts(qm) == (0, 0)
