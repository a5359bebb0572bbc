"""The backend fixture: every test in tests/drivers runs once per driver on a real store.

Each entry of BACKEND_SETUP prepares the environment for one backend and returns a Backend.
Servers (redis-server, mariadbd, postgres) are started by session fixtures in tests/servers.py and
skipped with an install hint when the binary is missing (never skipped under CI=true).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import pytest

from app.Queue.QueueManager import QueueManager


@dataclass
class Backend:
    """A configured store: `connection` is the queue connection name tests push to."""

    name: str
    connection: str
    manager: QueueManager
    env: dict[str, str]

    def driver(self) -> Any:
        return self.manager.connection(self.connection)


def _sqlite(request: pytest.FixtureRequest, qm: QueueManager, monkeypatch: pytest.MonkeyPatch) -> Backend:
    return Backend("sqlite", "database", qm, {})


def _mariadb(request: pytest.FixtureRequest, qm: QueueManager, monkeypatch: pytest.MonkeyPatch) -> Backend:
    from tests.servers_mariadb import use_mariadb

    server = request.getfixturevalue("mariadb_server")
    env = use_mariadb(server, request.getfixturevalue("mariadb_database"), monkeypatch)
    return Backend("mariadb", "database", qm, env)


def _pgsql(request: pytest.FixtureRequest, qm: QueueManager, monkeypatch: pytest.MonkeyPatch) -> Backend:
    from tests.servers_pgsql import use_pgsql

    server = request.getfixturevalue("pgsql_server")
    env = use_pgsql(server, request.getfixturevalue("pgsql_database"), monkeypatch)
    return Backend("pgsql", "database", qm, env)


def _redis(request: pytest.FixtureRequest, qm: QueueManager, monkeypatch: pytest.MonkeyPatch) -> Backend:
    from tests.servers_redis import use_redis

    env = use_redis(request.getfixturevalue("redis_server"), monkeypatch)
    return Backend("redis", "redis", qm, env)


def _redis_cluster(request: pytest.FixtureRequest, qm: QueueManager, monkeypatch: pytest.MonkeyPatch) -> Backend:
    from tests.servers_redis_cluster import use_redis_cluster

    env = use_redis_cluster(request.getfixturevalue("redis_cluster"), monkeypatch)
    return Backend("redis-cluster", "redis", qm, env)


BACKEND_SETUP: dict[str, Callable[[pytest.FixtureRequest, QueueManager, pytest.MonkeyPatch], Backend]] = {
    "sqlite": _sqlite,
    "mariadb": _mariadb,
    "pgsql": _pgsql,
    "redis": _redis,
    "redis-cluster": _redis_cluster,
}
BACKENDS = ["sqlite", "mariadb", "pgsql", "redis"]
# The cluster runs only the suites that must hold there (contract, batches, unique jobs, rate
# limits): a file opts in with `from tests.drivers.conftest import cluster_backend as backend`.
CLUSTER_BACKENDS = [*BACKENDS, "redis-cluster"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, queue_env: QueueManager, monkeypatch: pytest.MonkeyPatch) -> Backend:
    return BACKEND_SETUP[request.param](request, queue_env, monkeypatch)


@pytest.fixture(params=CLUSTER_BACKENDS)
def cluster_backend(request: pytest.FixtureRequest, queue_env: QueueManager, monkeypatch: pytest.MonkeyPatch) -> Backend:
    """`backend`, plus a run on a 3-master Redis Cluster (id "redis-cluster")."""
    return BACKEND_SETUP[request.param](request, queue_env, monkeypatch)


@pytest.fixture
def maria(request: pytest.FixtureRequest, queue_env: QueueManager, monkeypatch: pytest.MonkeyPatch) -> QueueManager:
    """The queue manager on a fresh MariaDB database (for the MariaDB-only tests of this folder)."""
    _mariadb(request, queue_env, monkeypatch)
    return queue_env
