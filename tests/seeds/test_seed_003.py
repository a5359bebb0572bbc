"""Seed 003 (RouteMQ queue drivers): its settings blocks, and its SQL on a `queue_jobs` / `queue_failed_jobs` deployment.

The SQL samples run as printed against tables named by QUEUE_JOBS_TABLE / QUEUE_FAILED_TABLE,
migrated, filled and worked by artisan subprocesses (the names are read when a process
starts), on SQLite and MariaDB. Samples using MySQL date arithmetic on DATETIME columns
(`DATE_SUB(NOW(), ...)`) do not apply: times are unix seconds here (docs/upgrading.md).
"""
from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.support import artisan, worker_env

SEED_TABLES = {"QUEUE_JOBS_TABLE": "queue_jobs", "QUEUE_FAILED_TABLE": "queue_failed_jobs"}

DISPATCH = """
import asyncio, sys
from app.Queue.aio import queue
from tests.fixtures.jobs import RecordJob
from tests.fixtures.seeds.s000_failed_handling import MyJob

async def main():
    await queue.push(RecordJob(sys.argv[1], "ran"))
    await queue.push(RecordJob(sys.argv[1], "ran"), queue="emails")
    await queue.push(MyJob(), queue="emails")
    await queue.later(3600, RecordJob(sys.argv[1], "later"), queue="reports")
asyncio.run(main())
"""


def _sqlite_store(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[dict[str, str], Callable[[str], list[tuple[Any, ...]]]]:
    path = tmp_path / "routemq.sqlite"
    env = {**SEED_TABLES, "DB_CONNECTION": "sqlite", "DB_DATABASE": str(path)}

    def query(sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(path) as conn:
            return [tuple(r) for r in conn.execute(sql).fetchall()]

    return env, query


def _mariadb_store(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[dict[str, str], Callable[[str], list[tuple[Any, ...]]]]:
    server = request.getfixturevalue("mariadb_server")
    server.create_database("routemq_seed")  # a fresh database: names are fixed at the first migrate
    env = {**SEED_TABLES, **server.env("routemq_seed")}

    def query(sql: str) -> list[tuple[Any, ...]]:
        conn = server.connect("routemq_seed")
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return [tuple(r) for r in cur.fetchall()]
        finally:
            conn.close()

    return env, query


@pytest.fixture(params=["sqlite", "mariadb"])
def routemq_db(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict[str, str], Callable[[str], list[tuple[Any, ...]]]]:
    """(driver, env for subprocesses, run-a-query) of a database migrated with the seed's table names."""
    env, query = {"sqlite": _sqlite_store, "mariadb": _mariadb_store}[request.param](request, tmp_path)
    migrated = artisan("migrate", env=env)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    return request.param, env, query


TABLES_SQL = {"sqlite": "SELECT name FROM sqlite_master WHERE type = 'table'", "mariadb": "SHOW TABLES"}


def test_database_tables_and_monitoring_sql(routemq_db: tuple[str, dict[str, str], Any], tmp_path: Path) -> None:
    driver, env, query = routemq_db
    tables = {r[0] for r in query(TABLES_SQL[driver])}
    assert {"queue_jobs", "queue_failed_jobs"} <= tables and not {"jobs", "failed_jobs"} & tables

    # Performance Tips: "Add indexes for performance"
    query("CREATE INDEX idx_queue_reserved ON queue_jobs(queue, reserved_at)")
    query("CREATE INDEX idx_available ON queue_jobs(available_at)")

    witness = tmp_path / "witness.log"
    done = subprocess.run([sys.executable, "-c", DISPATCH, str(witness)], env=worker_env(env), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr

    # Check pending jobs by queue
    assert sorted(query("""SELECT queue, COUNT(*) as pending_jobs
FROM queue_jobs
WHERE reserved_at IS NULL
GROUP BY queue""")) == [("default", 1), ("emails", 2), ("reports", 1)]
    # Check job age
    age = query("""SELECT queue,
       MIN(created_at) as oldest_job,
       MAX(created_at) as newest_job,
       COUNT(*) as total_jobs
FROM queue_jobs
GROUP BY queue""")
    assert sorted((r[0], r[3]) for r in age) == [("default", 1), ("emails", 2), ("reports", 1)]
    assert all(r[1] <= r[2] for r in age)

    worked = artisan("queue:work", "--queue", "default,emails", "--stop-when-empty", "--max-tries", "1", "--sleep", "0", env=env)
    assert worked.returncode == 0, worked.stdout + worked.stderr
    assert len(witness.read_text().splitlines()) == 2

    # Check processing jobs (none left reserved) and failed jobs
    assert query("""SELECT queue, COUNT(*) as processing_jobs
FROM queue_jobs
WHERE reserved_at IS NOT NULL
GROUP BY queue""") == []
    assert [tuple(r) for r in query("""SELECT queue, COUNT(*) as failed_jobs
FROM queue_failed_jobs
GROUP BY queue""")] == [("emails", 1)]
    listed = artisan("queue:failed", env=env)
    assert "MyJob" in listed.stdout and "emails" in listed.stdout


def test_redis_configuration_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from config import env as env_mod
    from config.queue import settings

    (tmp_path / ".env").write_text("""
# Enable Redis
ENABLE_REDIS=true
REDIS_HOST=localhost
REDIS_PORT=6379
REDIS_DB=0
REDIS_PASSWORD=

# Use Redis for queue
QUEUE_CONNECTION=redis
""")
    monkeypatch.delenv("QUEUE_CONNECTION", raising=False)
    env_mod.reload()
    redis = settings()["connections"]["redis"]
    assert settings()["default"] == "redis"
    assert (redis["enabled"], redis["host"], redis["port"], redis["db"], redis["password"]) == (True, "localhost", 6379, 0, None)


def test_database_configuration_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from config import env as env_mod
    from config.database import database_url
    from config.queue import settings

    (tmp_path / ".env").write_text("""
# Enable MySQL
ENABLE_MYSQL=true
DB_HOST=localhost
DB_PORT=3306
DB_NAME=mqtt_framework
DB_USER=root
DB_PASS=your_password

# Use database for queue
QUEUE_CONNECTION=database
""")
    for key in ("QUEUE_CONNECTION", "DB_CONNECTION", "DB_DATABASE"):
        monkeypatch.delenv(key, raising=False)
    env_mod.reload()
    assert settings()["default"] == "database"
    assert database_url() == "mysql+pymysql://root:your_password@localhost:3306/mqtt_framework?charset=utf8mb4"


@pytest.mark.parametrize(("settings_env", "command", "message"), [
    ({"ENABLE_REDIS": "false", "QUEUE_CONNECTION": "redis"}, ["queue:work", "--once"],
     "Redis is switched off (ENABLE_REDIS=false)"),
    ({"ENABLE_REDIS": "false"}, ["queue:work", "--connection", "redis", "--once"], "Redis is switched off (ENABLE_REDIS=false)"),
    ({"ENABLE_MYSQL": "false", "DB_CONNECTION": "mysql"}, ["queue:work", "--once"],
     "DB_CONNECTION=mysql uses MySQL, but ENABLE_MYSQL=false"),
    ({"ENABLE_MYSQL": "false", "DB_URL": "mysql+pymysql://u@127.0.0.1/x"}, ["queue:failed"], "DB_URL uses MySQL, but ENABLE_MYSQL=false"),
    ({"ENABLE_REDIS": "perhaps"}, ["queue:work", "--once"], "ENABLE_REDIS must be true or false, got 'perhaps'"),
    ({"QUEUE_JOBS_TABLE": "jobs; DROP TABLE x"}, ["queue:work", "--once"], "QUEUE_JOBS_TABLE must be a table name"),
    ({"QUEUE_FAILED_TABLE": ""}, ["queue:failed"], None),  # empty: the default name
])
def test_switched_off_drivers_and_bad_settings_are_one_clear_line(settings_env: dict[str, str], command: list[str],
                                                                  message: str | None) -> None:
    result = artisan(*command, env=settings_env)
    if message is None:
        assert result.returncode == 0, result.stderr
        return
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [next(line for line in result.stderr.splitlines() if message in line)]
    assert "Traceback" not in result.stderr + result.stdout
