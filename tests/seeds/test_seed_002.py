"""Seed 002 (the RouteMQ queue pull request): its code samples, imports changed only; on SQLite and Redis."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.drivers.conftest import Backend
from tests.seeds.conftest import run, work_queues


def test_usage_example_job_dispatch_and_worker(seed_backend: Backend, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.fixtures.seeds.s002_dispatch import handle_message

    run(lambda: handle_message({"topic": "users/123"}))
    assert seed_backend.manager.size("notifications", seed_backend.connection) == 1
    # 3. Run the Worker: python main.py --queue-work --queue notifications
    work_queues(seed_backend, ["notifications"])
    assert capsys.readouterr().out.splitlines() == ["Sending to user 123: Hello!"]


def test_configuration_env_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from config import env as env_mod
    from config.database import database_url
    from config.queue import settings

    (tmp_path / ".env").write_text("""
# Queue connection: 'redis' or 'database'
QUEUE_CONNECTION=redis

# Enable Redis (for Redis queue)
ENABLE_REDIS=true

# Enable MySQL (for Database queue or failed job storage)
ENABLE_MYSQL=true
""")
    for key in ("QUEUE_CONNECTION", "DB_CONNECTION", "DB_DATABASE"):
        monkeypatch.delenv(key, raising=False)
    env_mod.reload()
    assert settings()["default"] == "redis" and settings()["connections"]["redis"]["enabled"] is True
    assert database_url().startswith("mysql+pymysql://root@127.0.0.1:3306/")
