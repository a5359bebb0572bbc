"""Helpers for the export/import tests: switch this process between stores, fill one, run it dry."""
from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from app.Queue.QueueManager import QueueManager, manager
from config import env as env_mod

_fresh = itertools.count()


def use_store(name: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> QueueManager:
    """Point this process at an empty, migrated store: sqlite (a new file), mariadb, pgsql, or redis (+ a new SQLite file)."""
    from app.Queue.Database import migrator

    if name in ("sqlite", "redis"):
        monkeypatch.setenv("DB_CONNECTION", "sqlite")
        monkeypatch.setenv("DB_DATABASE", str(tmp_path / f"store{next(_fresh)}.sqlite"))
        monkeypatch.setenv("QUEUE_CONNECTION", "database")
        monkeypatch.setenv("CACHE_STORE", "database")
        env_mod.reload()
        qm = manager()
        qm.reset()
        migrator.upgrade(qm.engine())
        if name == "redis":
            from tests.servers_redis import use_redis

            use_redis(request.getfixturevalue("redis_server"), monkeypatch)
        return manager()
    if name == "mariadb":
        from tests.servers_mariadb import use_mariadb

        monkeypatch.setenv("QUEUE_CONNECTION", "database")
        use_mariadb(request.getfixturevalue("mariadb_server"), request.getfixturevalue("mariadb_database"), monkeypatch)
        return manager()
    if name == "pgsql":
        from tests.servers_pgsql import use_pgsql

        monkeypatch.setenv("QUEUE_CONNECTION", "database")
        use_pgsql(request.getfixturevalue("pgsql_server"), request.getfixturevalue("pgsql_database"), monkeypatch)
        return manager()
    raise ValueError(name)


def start_servers(names: list[str], request: pytest.FixtureRequest) -> None:
    """Start the servers of `names` up front, so switching stores mid-test takes no startup time."""
    for name in names:
        if name == "redis":
            request.getfixturevalue("redis_server")
        elif name in ("mariadb", "pgsql"):
            request.getfixturevalue(f"{name}_database")


def connection_of(name: str) -> str:
    return "redis" if name == "redis" else "database"


def leftovers(qm: QueueManager, connection: str, queues: list[str]) -> dict[str, Any]:
    """What is still stored after a run: job counts per queue and failed jobs."""
    driver = qm.connection(connection)
    return {"jobs": {q: driver.sizes(q).total for q in queues}, "failed": len(qm.failed.ids())}
