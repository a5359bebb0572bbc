"""PostgreSQL with real worker processes: a server restart mid-run, and LISTEN/NOTIFY waking an idle worker
(the SIGKILL chaos is in test_database_server_chaos)."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.Queue.QueueManager import QueueManager
from tests.conftest import read_lines
from tests.fixtures.jobs import RecordJob, SleepJob
from tests.reliability.chaos import done_ids, table_counts
from tests.servers_pgsql import PostgresServer, use_pgsql
from tests.support import start_worker, stop, wait_until

pytestmark = pytest.mark.slow

JOBS = 2000
DEADLINE = 60.0


@pytest.fixture
def pg(pgsql_server: PostgresServer, pgsql_database: str, queue_env: QueueManager,
       monkeypatch: pytest.MonkeyPatch) -> tuple[QueueManager, dict[str, str]]:
    return queue_env, use_pgsql(pgsql_server, pgsql_database, monkeypatch)




def test_workers_carry_on_through_a_server_restart_and_lose_nothing(pg, witness: Path, tmp_path: Path,
                                                                    pgsql_server: PostgresServer):
    """The server is stopped (fast shutdown: every connection dropped) and started again while four
    workers run: they reconnect by themselves, none exits, and every job completes."""
    qm, env = pg
    env = {**env, "QUEUE_RETRY_AFTER": "5"}
    ids = set(qm.bulk([SleepJob(str(witness), 0.01, "r") for _ in range(JOBS)]))
    logs = [tmp_path / f"w{i}.log" for i in range(4)]
    workers = [start_worker(["database", "--tries=0", f"--name=r{i}"], env=env, log=logs[i]) for i in range(4)]
    try:
        assert wait_until(lambda: len(done_ids(witness)) >= JOBS // 4, DEADLINE)
        pgsql_server.stop()
        time.sleep(1.0)  # workers meet refused connections meanwhile
        pgsql_server.start()
        assert wait_until(lambda: len(done_ids(witness)) >= JOBS and qm.size("default", "database") == 0, DEADLINE + 15)
        running = [proc.poll() is None for proc in workers]
    finally:
        codes = [stop(proc) for proc in workers]
    output = "\n".join(log.read_text(errors="replace") for log in logs if log.exists())
    assert running == [True] * 4, output[-3000:]
    assert codes == [0] * 4
    assert set(done_ids(witness)) == ids
    assert "Traceback" not in output
    assert table_counts(qm) == (0, 0)


def test_an_idle_worker_starts_a_dispatched_job_without_polling(pg, witness: Path, tmp_path: Path):
    """With --sleep=60 a polling worker would take up to a minute; LISTEN/NOTIFY wakes it at once."""
    _, env = pg
    log = tmp_path / "idle.log"
    worker = start_worker(["database", "--sleep=60", "--name=idle"], env=env, log=log)
    try:
        time.sleep(1.5)  # the worker has made its empty claim and is waiting
        for n in range(1, 4):
            RecordJob(str(witness), f"n{n}").dispatch()
            assert wait_until(lambda n=n: len(read_lines(witness)) == n, 20), log.read_text(errors="replace")
    finally:
        assert stop(worker) == 0
