"""Shared fixtures: every test gets its own SQLite database, APP_KEY and a fresh queue manager."""
from __future__ import annotations

import base64
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

pytest_plugins = ["app.Testing.pytest_plugin", "tests.servers_mariadb", "tests.servers_pgsql", "tests.servers_redis",
                  "tests.servers_redis_cluster"]

TEST_KEY = "base64:" + base64.b64encode(b"k" * 32).decode()

# Settings every test (and every worker subprocess it starts) sees.
BASE_ENV = {
    "APP_KEY": TEST_KEY,
    "APP_ENV": "testing",
    "QUEUE_ALLOWED_JOB_MODULES": "app.,tests.fixtures",
    "QUEUE_CONNECTION": "database",
    "DB_CONNECTION": "sqlite",
    "CACHE_STORE": "database",
}


@pytest.fixture(autouse=True, scope="session")
def in_process_workers_ignore_pytest_rss():
    """Give in-process workers no --memory limit by default.

    They share pytest's RSS, which grows with every imported test tool (Django, FastAPI,
    hypothesis...) and says nothing about a worker: past 128 MB they stopped with
    StopReason.MEMORY before running a job, depending on test order. Tests of the memory
    limit pass `memory=` (or `--memory` to a real worker process) explicitly.
    """
    from dataclasses import fields

    from app.Queue.WorkerOptions import WorkerOptions

    init = WorkerOptions.__init__
    saved = init.__defaults__
    assert saved is not None
    index = [f.name for f in fields(WorkerOptions)].index("memory")
    init.__defaults__ = saved[:index] + (0,) + saved[index + 1:]
    yield
    init.__defaults__ = saved


@pytest.fixture(autouse=True)
def queue_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Point the app at a fresh migrated SQLite file and reset the manager around each test."""
    from app.Queue.Database import migrator
    from app.Queue.QueueManager import manager
    from config import env as env_mod

    for key in [k for k in os.environ if k.startswith(("DB_", "DATABASE_", "REDIS_", "QUEUE_", "CACHE_", "APP_"))]:
        monkeypatch.delenv(key, raising=False)
    for key, value in BASE_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DB_DATABASE", str(tmp_path / "database.sqlite"))
    monkeypatch.setenv("APP_ENV_FILE", str(tmp_path / ".env"))
    env_mod.reload()
    qm = manager()
    qm.reset()
    migrator.upgrade(qm.engine())
    yield qm
    qm.reset()
    env_mod.reload()


@pytest.fixture
def witness(tmp_path: Path) -> Path:
    """A file jobs append lines to; tests read it to see what ran."""
    return tmp_path / "witness.log"


def read_lines(path: Path) -> list[str]:
    """The complete lines of a witness file. A line another process is still appending (no newline yet: a write
    that crosses a page boundary shows its first part to a reader before the rest) is left for the next read."""
    if not path.exists():
        return []
    text = path.read_text()
    return text.split("\n")[:-1]
