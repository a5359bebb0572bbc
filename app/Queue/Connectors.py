"""The built-in connection factories: driver name -> function building a driver from its config."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping

from app.Queue.contracts import QueueDriver
from app.Queue.Drivers.SyncQueue import SyncQueue

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager

Connector = Callable[["QueueManager", str, Mapping[str, Any]], QueueDriver]


def _sync_connector(manager: QueueManager, name: str, config: Mapping[str, Any]) -> QueueDriver:
    return SyncQueue(name, manager)


def _database_connector(manager: QueueManager, name: str, config: Mapping[str, Any]) -> QueueDriver:
    # lazy: each driver loads its client library (SQLAlchemy, psycopg, redis) only when its connection is used
    from app.Queue.Drivers.DatabaseQueue import DatabaseQueue

    default = float(config.get("retry_after", 30))
    engine = manager.engine(config.get("url"))
    if engine.dialect.name == "postgresql":  # same table and semantics; LISTEN/NOTIFY and one-statement claims
        # lazy: each driver loads its client library (SQLAlchemy, psycopg, redis) only when its connection is used
        from app.Queue.Drivers.PostgresQueue import PostgresQueue

        return PostgresQueue(name, engine, lambda q: manager.retry_after(q, default))
    return DatabaseQueue(name, engine, lambda q: manager.retry_after(q, default))


def _redis_connector(manager: QueueManager, name: str, config: Mapping[str, Any]) -> QueueDriver:
    # lazy: each driver loads its client library (SQLAlchemy, psycopg, redis) only when its connection is used
    from app.Queue.Drivers.RedisQueue import RedisQueue

    default = float(config.get("retry_after", 30))
    return RedisQueue(name, config, lambda q: manager.retry_after(q, default))


DEFAULT_CONNECTORS: dict[str, Connector] = {
    "sync": _sync_connector,
    "database": _database_connector,
    "redis": _redis_connector,
}
