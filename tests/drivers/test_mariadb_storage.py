"""The rest of the database layer on MariaDB: migrations, failed jobs, the cache store, clear errors."""
from __future__ import annotations

import threading

import pytest
from freezegun import freeze_time
from sqlalchemy import inspect

from app.Queue.Cache.DatabaseStore import DatabaseStore
from app.Queue.Database import migrator
from app.Queue.Database.connection import make_engine
from app.Queue.Database.tables import QUEUE_TABLES
from app.Queue.errors import ConnectionUnavailableError, MissingTablesError
from app.Queue.FailedJobs import DatabaseFailedJobProvider
from app.Queue.QueueManager import QueueManager
from tests.servers_sql import schema_differences
from tests.servers_mariadb import MariaDBServer


def test_migrations_upgrade_downgrade_and_upgrade_again(mariadb_server: MariaDBServer):
    mariadb_server.create_database("queue_migrations")
    engine = make_engine(mariadb_server.url("queue_migrations"))
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
            index = conn.exec_driver_sql("SHOW INDEX FROM jobs WHERE Key_name = 'ix_jobs_queue_priority_id'").mappings().all()
        assert [(r["Column_name"], r["Collation"]) for r in index] == [("queue", "A"), ("priority", "D"), ("id", "A")]
    finally:
        engine.dispose()


def test_migrated_schema_matches_the_tables_the_code_uses(mariadb_server: MariaDBServer, mariadb_database: str):
    assert schema_differences(mariadb_server.url(mariadb_database)) == []


def test_failed_job_is_logged_once_per_uuid_and_found_by_uuid_or_id(maria: QueueManager):
    failed = maria.failed
    assert isinstance(failed, DatabaseFailedJobProvider)
    big_trace = "Traceback\n" + "x" * 100_000  # LONGTEXT: more than TEXT's 64 KiB
    failed.log("database", "default", '{"p":1}', "RuntimeError: first", "uuid-1")
    failed.log("database", "default", '{"p":1}', big_trace, "uuid-1")
    failed.log("database", "emails", '{"p":2}', "ValueError: x", "uuid-2")
    assert failed.count() == 2 and failed.count("emails") == 1
    record = failed.find("uuid-1")
    assert record is not None and record.exception == big_trace
    assert failed.find(str(record.id)).uuid == "uuid-1"
    assert failed.ids() == ["uuid-1", "uuid-2"]
    assert failed.forget("uuid-2") is True and failed.forget("uuid-2") is False
    assert failed.flush() == 1 and failed.all() == []


def test_failed_jobs_flush_keeps_recent_ones(maria: QueueManager):
    with freeze_time("2026-01-01 00:00:00") as clock:
        maria.failed.log("database", "default", "{}", "E: old", "old")
        clock.tick(3 * 3600)
        maria.failed.log("database", "default", "{}", "E: new", "new")
        assert maria.failed.flush(older_than_hours=2) == 1
        assert [r.uuid for r in maria.failed.all()] == ["new"]


def test_cache_values_expire_and_overwrite(maria: QueueManager):
    store = maria.cache
    assert isinstance(store, DatabaseStore)
    with freeze_time() as clock:
        store.put("k", {"a": [1, "ü"]}, ttl=10)
        store.put("k", {"a": [2]}, ttl=10)
        assert store.get("k") == {"a": [2]} and store.many(["k", "none"]) == {"k": {"a": [2]}}
        clock.tick(11)
        assert store.get("k") is None
        assert store.add("k", "again", ttl=5) is True  # an expired key counts as absent
        assert store.add("k", "no", ttl=5) is False




def test_unreachable_server_is_one_clear_line(maria: QueueManager, monkeypatch: pytest.MonkeyPatch):
    from config import env as env_mod

    monkeypatch.setenv("DB_PORT", "1")  # nothing listens on port 1
    env_mod.reload()
    maria.reset()
    with pytest.raises(ConnectionUnavailableError, match=r"127\.0\.0\.1:1/.*DB_HOST, DB_PORT") as info:
        maria.connection("database").push('"x"', "default")
    assert "\n" not in str(info.value)


def test_wrong_password_and_missing_tables_are_clear_errors(maria: QueueManager, mariadb_server: MariaDBServer,
                                                            monkeypatch: pytest.MonkeyPatch):
    from config import env as env_mod

    monkeypatch.setenv("DB_PASSWORD", "wrong")
    env_mod.reload()
    maria.reset()
    with pytest.raises(ConnectionUnavailableError, match="Access denied"):
        maria.connection("database").sizes("default")
    mariadb_server.create_database("queue_unmigrated")
    monkeypatch.setenv("DB_PASSWORD", mariadb_server.password)
    monkeypatch.setenv("DB_DATABASE", "queue_unmigrated")
    env_mod.reload()
    maria.reset()
    with pytest.raises(MissingTablesError, match="artisan migrate"):
        maria.connection("database").push('"x"', "default")


@pytest.mark.slow
def test_driver_and_stores_carry_on_after_the_server_restarts(monkeypatch: pytest.MonkeyPatch, queue_env: QueueManager):
    """Pooled connections die with the server; the pool must notice (pre-ping) and reconnect."""
    from tests.servers_mariadb import running_mariadb

    with running_mariadb() as server:
        server.create_database("queue_restart")
        for key, value in {**server.env("queue_restart"), "CACHE_STORE": "database"}.items():
            monkeypatch.setenv(key, value)
        from config import env as env_mod

        env_mod.reload()
        queue_env.reset()
        migrator.upgrade(queue_env.engine())
        driver = queue_env.connection("database")
        driver.push('"before"', "default")
        queue_env.cache.put("k", 1)
        server.restart()
        assert driver.pop("default", "w").payload == '"before"'
        driver.push('"after"', "default")
        assert queue_env.cache.get("k") == 1
        assert driver.sizes("default").total == 2
        queue_env.reset()


@pytest.mark.timeout(60)
def test_cache_write_blocked_past_the_lock_wait_timeout_is_retried(maria: QueueManager, mariadb_server: MariaDBServer,
                                                                    mariadb_database: str):
    from tests.support import wait_until

    store = maria.cache
    store.put("status:x", {"state": "pending"})
    maria.engine().dispose()
    admin = mariadb_server.connect()
    with admin.cursor() as cur:
        cur.execute("SET GLOBAL innodb_lock_wait_timeout = 1")  # new pooled connections wait 1 s
    holder = mariadb_server.connect(mariadb_database, autocommit=False)
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT `key` FROM cache WHERE `key` = 'status:x' FOR UPDATE")
        releaser = threading.Thread(target=lambda: (wait_until(lambda: store.lock_retries > 0, 20), holder.commit()))
        releaser.start()
        store.put("status:x", {"state": "completed"})
        releaser.join(30)
    finally:
        with admin.cursor() as cur:
            cur.execute("SET GLOBAL innodb_lock_wait_timeout = 50")
        admin.close()
        holder.close()
        maria.engine().dispose()
    assert store.lock_retries >= 1 and store.get("status:x") == {"state": "completed"}
