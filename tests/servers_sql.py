"""What the MariaDB and PostgreSQL test servers share: one migrated database per session, tables
emptied before each test instead of re-migrating, and the switch of this process onto the server."""
from __future__ import annotations

from typing import Any, Callable, Protocol

import pytest

TEST_DATABASE = "queue_tests"


class SqlServer(Protocol):
    """The part of a test server these helpers use (MariaDBServer, PostgresServer)."""

    def create_database(self, name: str) -> None: ...

    def url(self, database: str) -> str: ...

    def env(self, database: str) -> dict[str, str]: ...


def emptied_tables() -> tuple[str, ...]:
    """The tables a test empties: the queue's, plus metrics minute rows and the dashboard's completed
    jobs (a test reading throughput or recent jobs must see only its own)."""
    from app.Queue.Database.tables import QUEUE_TABLES

    return (*QUEUE_TABLES, "job_metrics", "completed_jobs")


def migrated_database(server: SqlServer) -> str:
    """Create TEST_DATABASE on the session server and migrate it once."""
    from app.Queue.Database import migrator
    from app.Queue.Database.connection import make_engine

    server.create_database(TEST_DATABASE)
    engine = make_engine(server.url(TEST_DATABASE))
    try:
        migrator.upgrade(engine)
    finally:
        engine.dispose()
    return TEST_DATABASE


def use_sql_server(server: SqlServer, database: str, empty: Callable[[Any, str], None],
                   monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Empty the tables, point this test's process at the database; returns the env for subprocesses."""
    from app.Queue.QueueManager import manager
    from config import env as env_mod

    empty(server, database)
    settings = {**server.env(database), "CACHE_STORE": "database"}
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    env_mod.reload()
    manager().reset()
    return settings


def schema_differences(url: str) -> list[Any]:
    """What Alembic finds between the migrated database at `url` and the tables the code defines, less the
    `priority DESC` claim index (Alembic cannot compare expressions; each server's test checks it itself)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import app.Audit.AuditTable  # noqa: F401 (tables defined beside their feature join the shared metadata on import)
    import app.Horizon.tables  # noqa: F401
    import app.Queue.Database.metrics_tables  # noqa: F401
    from app.Queue.Database import migrator
    from app.Queue.Database.connection import make_engine
    from app.Queue.Database.tables import metadata

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()
    ignored = {("remove_table", migrator.VERSION_TABLE), ("remove_index", "ix_jobs_queue_priority_id"),
               ("add_index", "ix_jobs_queue_priority_id")}
    return [d for d in diffs if not isinstance(d, tuple) or (d[0], d[1].name) not in ignored]
