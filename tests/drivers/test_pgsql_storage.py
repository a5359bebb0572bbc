"""The rest of the database layer on PostgreSQL: migrations, the cache store, settings and clear errors."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import inspect

from app.Queue.Database import migrator
from app.Queue.Database.connection import make_engine
from app.Queue.Database.tables import QUEUE_TABLES
from app.Queue.errors import ConnectionUnavailableError, MissingTablesError
from app.Queue.QueueManager import QueueManager
from tests.servers_sql import schema_differences
from tests.servers_pgsql import PostgresServer, use_pgsql
from tests.support import artisan


@pytest.fixture
def pg(pgsql_server: PostgresServer, pgsql_database: str, queue_env: QueueManager,
       monkeypatch: pytest.MonkeyPatch) -> QueueManager:
    use_pgsql(pgsql_server, pgsql_database, monkeypatch)
    return queue_env


def test_migrations_upgrade_downgrade_and_upgrade_again(pgsql_server: PostgresServer):
    pgsql_server.create_database("queue_migrations")
    engine = make_engine(pgsql_server.url("queue_migrations"))
    try:
        assert len(migrator.heads(engine)) == 1
        migrator.upgrade(engine)
        assert set(QUEUE_TABLES) <= set(inspect(engine).get_table_names())
        migrator.downgrade(engine)
        assert not set(QUEUE_TABLES) & set(inspect(engine).get_table_names())
        assert migrator.current(engine) is None
        migrator.upgrade(engine)
        assert migrator.current(engine) == migrator.heads(engine)[0]
        with engine.connect() as conn:
            claim_index = conn.exec_driver_sql(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_jobs_queue_priority_id'").scalar_one()
            types = dict(conn.exec_driver_sql(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'jobs'").all())
        assert "(queue, priority DESC, id)" in claim_index
        assert types["id"] == "bigint" and types["payload"] == "text" and types["available_at"] == "bigint"
    finally:
        engine.dispose()


def test_migrated_schema_matches_the_tables_the_code_uses(pgsql_server: PostgresServer, pgsql_database: str):
    assert schema_differences(pgsql_server.url(pgsql_database)) == []




def test_database_url_selects_postgres_through_psycopg(pg: QueueManager, pgsql_server: PostgresServer,
                                                       pgsql_database: str, monkeypatch: pytest.MonkeyPatch):
    from config import env as env_mod
    from config.database import database_url

    for key in ("DB_CONNECTION", "DB_HOST", "DB_PORT", "DB_DATABASE", "DB_USERNAME", "DB_PASSWORD"):
        monkeypatch.delenv(key)
    url = pgsql_server.url(pgsql_database).replace("postgresql+psycopg://", "postgresql://")
    monkeypatch.setenv("DATABASE_URL", url)
    env_mod.reload()
    pg.reset()
    assert database_url().startswith("postgresql+psycopg://")
    pg.connection("database").push('"via url"', "default")
    assert pg.size("default", "database") == 1


def _point_at(pg: QueueManager, monkeypatch: pytest.MonkeyPatch, **settings: str) -> None:
    from config import env as env_mod

    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    env_mod.reload()
    pg.reset()


def test_unreachable_server_is_one_clear_line(pg: QueueManager, monkeypatch: pytest.MonkeyPatch):
    _point_at(pg, monkeypatch, DB_PORT="1")  # nothing listens on port 1
    with pytest.raises(ConnectionUnavailableError, match=r"127\.0\.0\.1:1/.*[Cc]onnection refused.*is PostgreSQL running") as info:
        pg.connection("database").push('"x"', "default")
    assert "\n" not in str(info.value)


def test_wrong_password_missing_database_and_missing_tables_are_clear_errors(pg: QueueManager, pgsql_server: PostgresServer,
                                                                             monkeypatch: pytest.MonkeyPatch):
    _point_at(pg, monkeypatch, DB_PASSWORD="wrong")
    with pytest.raises(ConnectionUnavailableError, match="password authentication failed.*DB_USERNAME and DB_PASSWORD"):
        pg.connection("database").sizes("default")
    _point_at(pg, monkeypatch, DB_PASSWORD=pgsql_server.password, DB_DATABASE="no_such_db")
    with pytest.raises(ConnectionUnavailableError, match="does not exist.*DB_DATABASE"):
        pg.connection("database").pop("default", "w")
    pgsql_server.create_database("queue_unmigrated")
    _point_at(pg, monkeypatch, DB_DATABASE="queue_unmigrated")
    with pytest.raises(MissingTablesError, match="artisan migrate"):
        pg.connection("database").push('"x"', "default")
    with pytest.raises(MissingTablesError, match="artisan migrate"):
        pg.connection("database").pop_blocking(["default"], "w", 0.1)


def test_worker_against_an_unreachable_server_exits_1_with_one_line(pg: QueueManager, monkeypatch: pytest.MonkeyPatch):
    env = {"DB_CONNECTION": "pgsql", "DB_PORT": "1"}
    done = artisan("queue:work", "database", "--once", env=env)
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode == 1
    assert len(lines) == 1 and "is PostgreSQL running?" in lines[0] and "Traceback" not in lines[0]


def test_migrate_and_queue_commands_run_on_postgres(pgsql_server: PostgresServer, pg: QueueManager):
    pgsql_server.create_database("queue_cli")
    env = {**pgsql_server.env("queue_cli"), "CACHE_STORE": "database"}
    assert artisan("migrate", env=env).returncode == 0
    for command in (("queue:pause", "default"), ("queue:resume", "default"), ("queue:stats",), ("queue:failed",),
                    ("queue:clear", "--queue=default", "--force"), ("queue:health",)):
        done = artisan(*command, env=env)
        assert done.returncode == 0, (command, done.stdout + done.stderr)


def test_metrics_from_concurrent_writers_all_count(pg: QueueManager):
    """Four writers merge into the same (job, queue, minute) rows: row locks and retried races lose no sample."""
    from app.Jobs.MetricsStore import MetricsStore, Sample
    from app.Queue.Support.time import now

    store = MetricsStore(pg.engine())
    at = now()
    barrier = threading.Barrier(4)

    def write(ok: bool) -> None:
        barrier.wait()
        for _ in range(20):
            store.record([Sample("ReportJob", "default", 0.01, ok, at), Sample("OtherJob", "default", 0.02, True, at)])

    threads = [threading.Thread(target=write, args=(i % 2 == 0,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    report = store.summary(at - 60, job="ReportJob")
    assert (report.processed, report.failed) == (40, 40)
    assert store.summary(at - 60, job="OtherJob").processed == 80


def test_failed_job_is_logged_once_per_uuid_and_found_by_uuid_or_id(pg: QueueManager):
    from app.Queue.FailedJobs import DatabaseFailedJobProvider

    failed = pg.failed
    assert isinstance(failed, DatabaseFailedJobProvider)
    big_trace = "Traceback\n" + "x" * 100_000
    failed.log("database", "default", '{"p":1}', "RuntimeError: first", "uuid-1")
    failed.log("database", "default", '{"p":1}', big_trace, "uuid-1")  # the same uuid again: one row, the newest
    failed.log("database", "emails", '{"p":2}', "ValueError: x", "uuid-2")
    assert failed.count() == 2 and failed.count("emails") == 1
    record = failed.find("uuid-1")
    assert record is not None and record.exception == big_trace
    assert failed.find(str(record.id)).uuid == "uuid-1"
    assert failed.forget("uuid-2") is True and failed.forget("uuid-2") is False
    assert failed.flush() == 1 and failed.all() == []
