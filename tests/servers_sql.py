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
