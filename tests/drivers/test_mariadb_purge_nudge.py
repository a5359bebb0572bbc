"""MariaDB connection tuning: DB_PURGE_NUDGE wakes InnoDB purge between claims (off cleanly where it cannot); sockets skip unchanged timeouts."""
from __future__ import annotations

import logging
import time

import pytest

from app.Queue.contracts import PushItem
from app.Queue.Database.connection import make_engine
from app.Queue.Database import purge_nudge
from app.Queue.Database.purge_nudge import WAIT_CAP, PurgeNudge
from app.Queue.Drivers.DatabaseQueue import DatabaseQueue
from app.Queue.errors import ConfigurationError
from app.Queue.QueueManager import QueueManager
from tests.servers_mariadb import MariaDBServer
from tests.support import wait_until

WORKER = "test-worker"


def _history(server: MariaDBServer) -> int:
    return int(server.fetch_one("SHOW GLOBAL STATUS LIKE 'Innodb_history_list_length'")[1])


def _nudge_connections(server: MariaDBServer) -> int:
    return int(server.fetch_one("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                                "WHERE INFO LIKE '%%innodb_max_purge_lag_wait%%' AND ID <> CONNECTION_ID()")[0])


def test_a_claiming_worker_nudges_purge_and_stops_on_close(maria: QueueManager, mariadb_server: MariaDBServer):
    driver = maria.connection("database")
    assert isinstance(driver, DatabaseQueue) and driver._purge_nudge is not None
    nudge = driver._purge_nudge
    assert not nudge.running  # nothing before the first claim: a dispatching process never starts it
    driver.bulk([PushItem("{}", "default", 0, 0)] * 3)
    job = driver.pop("default", WORKER)
    assert job is not None
    assert wait_until(lambda: nudge.nudges >= 3, timeout=10)
    assert nudge.running and nudge.off_reason is None
    driver.close()
    assert not nudge.running
    assert wait_until(lambda: _nudge_connections(mariadb_server) == 0, timeout=5)


def test_an_idle_worker_stops_nudging_until_it_claims_again(maria: QueueManager, monkeypatch: pytest.MonkeyPatch):
    """No claim for IDLE_AFTER seconds (nothing acked, nothing to purge): no statement goes to the server."""
    monkeypatch.setattr(purge_nudge, "IDLE_AFTER", 0.3)
    driver = maria.connection("database")
    nudge = driver._purge_nudge
    driver.bulk([PushItem("{}", "default", 0, 0)] * 2)
    try:
        assert driver.pop("default", WORKER) is not None
        assert wait_until(lambda: nudge.nudges >= 1, timeout=10)
        time.sleep(0.3 + WAIT_CAP + 0.2)  # idle: the nudge in flight ends, none follows
        idle = nudge.nudges
        time.sleep(0.6)
        assert nudge.nudges == idle and nudge.running
        assert driver.pop("default", WORKER) is not None  # a claim: nudging resumes
        assert wait_until(lambda: nudge.nudges > idle, timeout=5)
    finally:
        driver.close()


def test_purge_catches_up_within_a_fraction_of_a_second_while_nudged(maria: QueueManager, mariadb_server: MariaDBServer):
    """Acked jobs leave purge work behind; nudged, it is done within ~0.1 s, not at the server's next 1 s tick."""
    driver = maria.connection("database")
    driver.bulk([PushItem("{}", "default", 0, 0)] * 400)
    job = driver.pop("default", WORKER)
    assert wait_until(lambda: driver._purge_nudge.nudges >= 1, timeout=10)  # type: ignore[union-attr]
    caught_up = 0
    for _ in range(5):  # five bursts of acks; each time, the history must empty in well under the 1 s tick
        for _ in range(60):
            assert job is not None
            job = driver.ack_and_claim(job, ["default"], WORKER)[1]
        started = time.monotonic()
        if wait_until(lambda: _history(mariadb_server) == 0, timeout=2, interval=0.01):
            caught_up += time.monotonic() - started < 0.6
    assert caught_up >= 4  # unnudged, about half the bursts would wait for the once-a-second tick


def test_a_user_without_super_turns_nudging_off_and_claims_go_on(maria: QueueManager, mariadb_server: MariaDBServer,
                                                                 mariadb_database: str,
                                                                 caplog: pytest.LogCaptureFixture):
    import pymysql

    root = pymysql.connect(host=mariadb_server.host, port=mariadb_server.port, user="root", password="", autocommit=True)
    with root.cursor() as cur:
        cur.execute("DROP USER IF EXISTS 'plain'@'127.0.0.1'")
        cur.execute("CREATE USER 'plain'@'127.0.0.1' IDENTIFIED BY 'plain-secret'")
        cur.execute(f"GRANT ALL PRIVILEGES ON `{mariadb_database}`.* TO 'plain'@'127.0.0.1'")
    root.close()
    url = (f"mysql+pymysql://plain:plain-secret@{mariadb_server.host}:{mariadb_server.port}/{mariadb_database}"
           "?charset=utf8mb4")
    driver = DatabaseQueue("database", make_engine(url), lambda _queue: 60)
    try:
        with caplog.at_level(logging.INFO, logger="queue.database"):
            driver.bulk([PushItem("{}", "default", 0, 0)] * 2)
            first = driver.pop("default", WORKER)
            assert first is not None
            nudge = driver._purge_nudge
            assert nudge is not None and wait_until(lambda: nudge.off_reason is not None, timeout=10)
            assert "refused" in nudge.off_reason
            assert wait_until(lambda: not nudge.running, timeout=5)  # the thread ends once it has closed its connection
            second = driver.ack_and_claim(first, ["default"], WORKER)[1]
            assert second is not None and second.id != first.id
            assert driver.pop("default", WORKER) is None  # no restart of a nudge that was turned off
        lines = [r for r in caplog.records if "DB_PURGE_NUDGE" in r.getMessage()]
        assert len(lines) == 1 and lines[0].levelno == logging.INFO
    finally:
        driver.close()


def test_stop_ends_a_nudge_that_is_waiting_for_purge(mariadb_server: MariaDBServer, mariadb_database: str):
    """The wait is capped (max_statement_time), so stopping never hangs on a server with purge work left."""
    nudge = PurgeNudge(make_engine(mariadb_server.url(mariadb_database)))
    hold = mariadb_server.connect(mariadb_database, autocommit=False)
    work = mariadb_server.connect(mariadb_database)
    try:
        with hold.cursor() as cur:  # an open read view: purge cannot finish, so every nudge waits its full cap
            cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            cur.execute("SELECT COUNT(*) FROM jobs")
        with work.cursor() as cur:
            cur.execute("INSERT INTO jobs (queue, payload, attempts, priority, available_at, created_at) "
                        "VALUES ('nudge', '{}', 0, 0, 0, 0)")
            cur.execute("DELETE FROM jobs WHERE queue = 'nudge'")
        nudge.ensure_started()
        assert wait_until(lambda: nudge.nudges >= 2, timeout=10)  # each ended by the cap, not by purge
        started = time.monotonic()
        nudge.stop(timeout=5)
        assert not nudge.running and time.monotonic() - started < WAIT_CAP + 1
    finally:
        hold.rollback()
        hold.close()
        work.close()
        nudge.stop()


def test_db_purge_nudge_false_leaves_purge_to_the_server(maria: QueueManager, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DB_PURGE_NUDGE", "false")
    driver = DatabaseQueue("database", maria.connection("database").engine, lambda _queue: 60)
    assert driver._purge_nudge is None
    monkeypatch.setenv("DB_PURGE_NUDGE", "sometimes")
    with pytest.raises(ConfigurationError, match="DB_PURGE_NUDGE"):
        DatabaseQueue("database", maria.connection("database").engine, lambda _queue: 60)


def test_the_engines_connections_skip_unchanged_socket_timeouts(maria: QueueManager):
    """The worker's held connection sends its claims through a SteadyTimeoutSocket (app/Queue/Database/steady_socket.py)."""
    from app.Queue.Database.steady_socket import SteadyTimeoutSocket

    driver = maria.connection("database")
    driver.bulk([PushItem("{}", "default", 0, 0)] * 2)
    first = driver.pop("default", WORKER)
    second = driver.ack_and_claim(first, ["default"], WORKER)[1]  # type: ignore[arg-type]
    assert first is not None and second is not None and second.id != first.id
    raw = driver._held._conn.connection.dbapi_connection  # type: ignore[union-attr]
    assert isinstance(raw._sock, SteadyTimeoutSocket) and raw._sock.gettimeout() is None
