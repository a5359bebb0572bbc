"""Invariant 2 on MariaDB with real worker processes: 8 workers racing (the SIGKILL chaos is in test_database_server_chaos)."""
from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from app.Queue.QueueManager import QueueManager
from tests.conftest import read_lines
from tests.fixtures.jobs import RecordJob
from tests.reliability.chaos import table_counts
from tests.servers_mariadb import MariaDBServer, use_mariadb
from tests.support import start_worker, stop

pytestmark = pytest.mark.slow

JOBS = 2000
DEADLINE = 60.0


@pytest.fixture
def maria(mariadb_server: MariaDBServer, mariadb_database: str, queue_env: QueueManager,
          monkeypatch: pytest.MonkeyPatch) -> tuple[QueueManager, dict[str, str]]:
    return queue_env, use_mariadb(mariadb_server, mariadb_database, monkeypatch)




def _escaped_errors(logs: list[Path]) -> list[str]:
    """Lines of worker output that show an error reaching the worker (none may)."""
    words = ("Traceback", "Deadlock", "Lock wait timeout", "OperationalError", "Error:")
    return [line for log in logs if log.exists() for line in log.read_text(errors="replace").splitlines()
            if any(w in line for w in words)]




def test_eight_workers_never_run_a_job_twice_and_no_deadlock_escapes(maria, witness: Path, tmp_path: Path,
                                                                     mariadb_server: MariaDBServer):
    qm, env = maria
    deadlocks_before = _server_deadlocks(mariadb_server)
    ids = set(qm.bulk([RecordJob(str(witness), "r") for _ in range(JOBS)]))
    logs = [tmp_path / f"w{i}.log" for i in range(8)]
    workers = [start_worker(["database", "--sleep=0.05", "--stop-when-empty", f"--name=w{i}"], env=env, log=logs[i])
               for i in range(8)]
    started = time.monotonic()
    try:
        codes = [proc.wait(DEADLINE) for proc in workers]
    finally:
        for proc in workers:
            stop(proc)
    ran = Counter(line.split()[1] for line in read_lines(witness))
    per_worker = [log.read_text().count("DONE") if log.exists() else 0 for log in logs]
    print(f"\nmariadb 8 workers: {JOBS} jobs in {time.monotonic() - started:.1f} s, per worker {per_worker}, "
          f"server deadlocks {_server_deadlocks(mariadb_server) - deadlocks_before} (all retried inside the driver)")
    assert codes == [0] * 8
    assert set(ran) == ids and max(ran.values()) == 1
    assert all(line.endswith(" 1") for line in read_lines(witness))
    assert _escaped_errors(logs) == []
    assert table_counts(qm) == (0, 0)


def _server_deadlocks(server: MariaDBServer) -> int:
    row = server.fetch_one("SHOW GLOBAL STATUS LIKE 'Innodb_deadlocks'")
    return int(row[1]) if row else 0
