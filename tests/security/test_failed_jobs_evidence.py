"""Medium/Low: failed_jobs keeps the evidence of real failures, and reading it survives rows an attacker planted."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from app.Queue.Support.time import now_int
from tests.drivers.conftest import Backend
from tests.fixtures.security_jobs import Boom
from tests.security.store import plant, raw_redis, work
from tests.support import artisan


def test_an_unsigned_payload_with_a_failed_jobs_uuid_does_not_overwrite_that_row(backend: Backend, witness: Path):
    real_uuid = Boom(witness).on_connection(backend.connection).dispatch()
    work(backend)
    before = backend.manager.failed.find(real_uuid)
    assert before is not None and "real failure evidence" in before.exception
    plant(backend, json.dumps({"uuid": real_uuid, "job": "tests.fixtures.security_jobs:Boom", "data": {}}))
    work(backend)
    after = backend.manager.failed.find(real_uuid)
    assert (after.payload, after.exception, after.failed_at) == (before.payload, before.exception, before.failed_at)
    rows = backend.manager.failed.all()
    assert len(rows) == 2 and {r.uuid for r in rows} - {real_uuid}  # the forgery got a row of its own


def _plant_failed_row(backend: Backend, payload: str, failed_driver: str) -> None:
    if failed_driver == "redis":
        client = raw_redis(backend)
        prefix = str(backend.manager.connection_config("redis").get("prefix") or "queues:")
        client.hset(f"{prefix}{{failed_jobs}}", "planted", payload)  # not even a JSON record
        client.zadd(f"{prefix}{{failed_jobs}}:order", {"planted": 1})
        client.close()
        return
    with backend.manager.engine().begin() as conn:
        conn.execute(text("INSERT INTO failed_jobs (uuid, connection, queue, payload, exception, failed_at) "
                          "VALUES ('planted', 'database', 'default', :p, :e, :t)"),
                     {"p": payload, "e": "[" * 5000, "t": now_int()})


@pytest.mark.parametrize("payload", ["[" * 100_000 + "]" * 100_000, '{"displayName":' * 5000, "\x00garbage"],
                         ids=["deep-list", "deep-object", "garbage"])
def test_queue_failed_lists_a_planted_row_instead_of_exiting(backend: Backend, payload: str, monkeypatch: pytest.MonkeyPatch):
    failed_driver = "redis" if backend.name == "redis" else "database"
    if "\x00" in payload and backend.name == "pgsql":
        pytest.skip("PostgreSQL refuses NUL in a text column at the write itself: the row cannot be planted")
    env = dict(backend.env)
    if failed_driver == "redis":
        monkeypatch.setenv("QUEUE_FAILED_DRIVER", "redis")
        env["QUEUE_FAILED_DRIVER"] = "redis"
    _plant_failed_row(backend, payload, failed_driver)
    done = artisan("queue:failed", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "planted" in done.stdout
