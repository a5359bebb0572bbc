"""A worker rides out a restart of its store (app/Queue/StoreOutage.py), on the real servers.

Two worker processes run jobs while redis-server or mariadbd is stopped and started again
under them: every job completes (0 lost), the workers stay up, the outage shows as at most a
couple of warning lines per worker and never a traceback. A store that stays down ends the
worker after QUEUE_RECONNECT_TIMEOUT with one error line and exit status 1.
SQLite has no server to lose, so it has no outage to ride out.
"""
from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Callable

import pytest

from app.Queue.QueueManager import QueueManager
from tests.conftest import read_lines
from tests.fixtures.jobs import SleepJob
from tests.reliability.chaos import done_ids
from tests.servers_mariadb import MariaDBServer, _stop, use_mariadb
from tests.servers_redis import RedisServer, use_redis
from tests.support import start_worker, stop, wait_until

pytestmark = pytest.mark.slow

JOBS = 40
OUTAGE = 5.0  # seconds the server stays down


@pytest.fixture
def persistent_redis(redis_factory: Callable[..., RedisServer], monkeypatch: pytest.MonkeyPatch,
                     queue_env: QueueManager) -> tuple[RedisServer, dict[str, str]]:
    """A redis-server that keeps its data across a restart (AOF, fsync per write)."""
    server = redis_factory("--appendonly", "yes", "--appendfsync", "always")
    return server, use_redis(server, monkeypatch)


@pytest.fixture
def maria(mariadb_server: MariaDBServer, mariadb_database: str, queue_env: QueueManager,
          monkeypatch: pytest.MonkeyPatch) -> tuple[MariaDBServer, dict[str, str]]:
    return mariadb_server, use_mariadb(mariadb_server, mariadb_database, monkeypatch)


def _outage_lines(log: Path) -> tuple[list[str], list[str]]:
    """(warning lines about the store, lines that look like errors or tracebacks) of one worker's output."""
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    warnings = [ln for ln in lines if "queue store is unreachable" in ln]
    noise = [ln for ln in lines if ln.startswith(("Traceback", "  File ")) or "Error" in ln and "unreachable" not in ln]
    return warnings, noise


def _ride_out(qm: QueueManager, connection: str, env: dict[str, str], witness: Path, tmp_path: Path,
              restart: Callable[[], None], reported: bool) -> None:
    # Two long jobs first (higher priority): each worker is inside one when the server goes away.
    long_ids = {qm.push(SleepJob(str(witness), 2.5, "long").with_priority(5), connection=connection) for _ in range(2)}
    ids = long_ids | set(qm.bulk([SleepJob(str(witness), 0.15, "o") for _ in range(JOBS)], connection=connection))
    env = {**env, "QUEUE_RETRY_AFTER": "6"}
    logs = [tmp_path / f"w{i}.log" for i in range(2)]
    workers = [start_worker([connection, "--tries=0", "--sleep=0.1", f"--name=o{i}"], env=env, log=logs[i])
               for i in range(2)]
    try:
        assert wait_until(lambda: sum(ln.startswith("start long") for ln in read_lines(witness)) >= 2, 30), \
            "workers did not start the long jobs"
        restart()  # both long jobs are in flight while the server goes away
        assert wait_until(lambda: set(done_ids(witness)) == ids, 90), f"{len(ids - set(done_ids(witness)))} jobs lost"
        alive = [w.poll() for w in workers]
    finally:
        codes = [stop(w) for w in workers]
    report = {str(log.name): _outage_lines(log) for log in logs}
    assert alive == [None, None], report
    assert codes == [0, 0], report
    if reported:
        assert sum(len(w) for w, _ in report.values()) >= 1, "the outage was not reported"
    for warnings, noise in report.values():
        assert len(warnings) <= 2, warnings
        assert noise == [], noise
    assert qm.size("default", connection) == 0


def test_workers_ride_out_a_redis_restart_losing_no_job(persistent_redis, witness: Path, tmp_path: Path,
                                                        queue_env: QueueManager):
    server, env = persistent_redis

    def restart() -> None:
        server.stop()
        time.sleep(OUTAGE)
        server.start()

    # redis-py itself retries a command for up to ~8 s (10 tries, backoff capped at 1 s), so a 5 s
    # outage may pass without the worker's warning; what matters is no lost job and no traceback.
    _ride_out(queue_env, "redis", env, witness, tmp_path, restart, reported=False)


def test_workers_ride_out_a_mariadb_restart_losing_no_job(maria, witness: Path, tmp_path: Path, queue_env: QueueManager):
    server, env = maria

    def restart() -> None:
        if server.process is not None:
            _stop(server.process)
        time.sleep(OUTAGE)
        server.restart()

    _ride_out(queue_env, "database", env, witness, tmp_path, restart, reported=True)


def _in_loop(log: Path) -> None:
    """Wait until the worker is past its start-up checks (which fail at once on a store that is down)."""
    assert wait_until(lambda: log.exists() and "Processing jobs" in log.read_text(errors="replace"), 60)
    time.sleep(0.5)


def _gives_up(args: list[str], env: dict[str, str], tmp_path: Path, take_down: Callable[[], None]) -> subprocess.CompletedProcess[str]:
    log = tmp_path / "giveup.log"
    worker = start_worker([*args, "--sleep=0.1"], env={**env, "QUEUE_RECONNECT_TIMEOUT": "2"}, log=log)
    try:
        _in_loop(log)
        take_down()
        code = worker.wait(60)
    finally:
        stop(worker)
    lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip() and not ln.startswith("Processing jobs")]
    assert code == 1, lines
    assert not any("Traceback" in ln for ln in lines), lines
    assert len([ln for ln in lines if "unreachable" in ln]) == 2, lines  # the warning, then the final error
    assert "QUEUE_RECONNECT_TIMEOUT=2" in lines[-1], lines
    return subprocess.CompletedProcess(args, code, "\n".join(lines), "")


def test_a_worker_gives_up_on_redis_after_the_reconnect_timeout(persistent_redis, tmp_path: Path):
    server, env = persistent_redis
    _gives_up(["redis"], env, tmp_path, server.stop)


def test_a_worker_gives_up_on_mariadb_after_the_reconnect_timeout(maria, tmp_path: Path):
    server, env = maria
    try:
        _gives_up(["database"], env, tmp_path, lambda: _stop(server.process) if server.process else None)
    finally:
        server.restart()


def test_sigterm_during_an_outage_stops_the_worker_at_once(persistent_redis, tmp_path: Path):
    server, env = persistent_redis
    log = tmp_path / "sigterm.log"
    worker = start_worker(["redis", "--sleep=0.1"], env={**env, "QUEUE_RECONNECT_TIMEOUT": "600"}, log=log)
    try:
        _in_loop(log)
        server.stop()
        assert wait_until(lambda: "queue store is unreachable" in log.read_text(errors="replace"), 30)
        code = stop(worker)  # SIGKILLs (code -9) if the worker does not exit on its own
    finally:
        stop(worker)
    lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    assert not any("Traceback" in ln for ln in lines), lines
    # Exit 1 with one line when the store is still down: the worker could not hand back its state.
    assert code in (0, 1) and len(lines) <= 3, (code, lines)
