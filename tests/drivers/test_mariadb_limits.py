"""MariaDB's own limits give clear errors: character set (utf8mb4) and max_allowed_packet.

Before, `migrate` created latin1 tables on a latin1 database and an emoji then failed with a
raw DataError quoting the payload; a payload over max_allowed_packet gave a raw
"MySQL server has gone away". (Queue names over 191 characters and payloads over
QUEUE_MAX_PAYLOAD_BYTES are refused at dispatch on every driver: test_dispatch_checks.py.)
"""
from __future__ import annotations

from typing import Iterator

import pytest

from app.Queue.Database.mysql_checks import PayloadTooLargeError
from app.Queue.errors import ConfigurationError
from app.Queue.QueueManager import QueueManager
from tests.fixtures.jobs import RecordJob
from tests.servers_mariadb import MariaDBServer, use_mariadb
from tests.support import artisan

SECRET = "payload-marker-7f3a"


def _one_line_exit_1(result) -> str:  # type: ignore[no-untyped-def]
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output and SECRET not in output, output
    lines = [ln for ln in output.splitlines() if ln.strip()]
    assert len(lines) == 1, output
    return lines[0]


@pytest.fixture
def latin1_database(mariadb_server: MariaDBServer) -> Iterator[str]:
    conn = mariadb_server.connect()
    with conn.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS queue_latin1")
        cur.execute("CREATE DATABASE queue_latin1 CHARACTER SET latin1")
    try:
        yield "queue_latin1"
    finally:
        with conn.cursor() as cur:
            cur.execute("DROP DATABASE IF EXISTS queue_latin1")
        conn.close()


def test_migrate_refuses_a_latin1_database_and_says_how_to_convert(mariadb_server: MariaDBServer, latin1_database: str):
    line = _one_line_exit_1(artisan("migrate", env=mariadb_server.env(latin1_database)))
    assert "utf8mb4" in line and f"ALTER DATABASE `{latin1_database}` CHARACTER SET utf8mb4" in line
    conn = mariadb_server.connect(latin1_database)
    with conn.cursor() as cur:
        cur.execute("SHOW TABLES")
        assert cur.fetchall() == ()  # nothing was created in the wrong character set
    conn.close()


def test_latin1_queue_tables_give_clear_errors_at_migrate_and_dispatch(mariadb_server: MariaDBServer, mariadb_database: str,
                                                                      queue_env: QueueManager, monkeypatch: pytest.MonkeyPatch):
    use_mariadb(mariadb_server, mariadb_database, monkeypatch)
    admin = mariadb_server.connect(mariadb_database)
    with admin.cursor() as cur:
        cur.execute("ALTER TABLE jobs CONVERT TO CHARACTER SET latin1")  # as a pre-utf8mb4 install left it
    try:
        line = _one_line_exit_1(artisan("migrate", env=mariadb_server.env(mariadb_database)))
        assert "ALTER TABLE `jobs` CONVERT TO CHARACTER SET utf8mb4" in line
        job = RecordJob("/dev/null", f"{SECRET} 😀")
        with pytest.raises(ConfigurationError, match="not utf8mb4") as info:
            queue_env.push(job)
        assert SECRET not in str(info.value) and "\n" not in str(info.value)
    finally:
        with admin.cursor() as cur:
            cur.execute("ALTER TABLE jobs CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        admin.close()
    assert queue_env.push(RecordJob("/dev/null", "😀"))  # converted back: emoji are stored


def test_a_payload_over_max_allowed_packet_is_refused_before_sending(mariadb_server: MariaDBServer, mariadb_database: str,
                                                                    queue_env: QueueManager, monkeypatch: pytest.MonkeyPatch):
    env = use_mariadb(mariadb_server, mariadb_database, monkeypatch)
    admin = mariadb_server.connect()
    with admin.cursor() as cur:
        cur.execute("SELECT @@GLOBAL.max_allowed_packet")
        saved = cur.fetchone()[0]
        cur.execute("SET GLOBAL max_allowed_packet = 1048576")
    try:
        queue_env.reset()  # new connections see the new limit
        big = RecordJob("/dev/null", SECRET + "x" * 2_000_000)
        for dispatch in (lambda: queue_env.push(big), lambda: queue_env.bulk([RecordJob("/dev/null"), big])):
            with pytest.raises(PayloadTooLargeError, match="max_allowed_packet") as info:
                dispatch()
            assert SECRET not in str(info.value)
        assert queue_env.size("default") == 0
        result = artisan("migrate", env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "max_allowed_packet (1048576 bytes) is below QUEUE_MAX_PAYLOAD_BYTES" in result.stderr
    finally:
        with admin.cursor() as cur:
            cur.execute(f"SET GLOBAL max_allowed_packet = {int(saved)}")
        admin.close()
        queue_env.reset()
