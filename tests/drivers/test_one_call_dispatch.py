"""What one `dispatch()` writes, on every backend; on Redis all of it in one script call.

On Redis (queue and cache on one server) the record, its wake-up token, the pending status and
the unique lock are written by the DISPATCH script: a unique job dispatched from many threads
at once leaves exactly one record, the status is readable as soon as dispatch() returns, and a
refused copy leaves no status behind.
"""
from __future__ import annotations

import json
import threading

import redis

from app.Jobs.JobState import JobState
from app.Jobs.UniqueLock import lock_key
from tests.drivers.conftest import Backend
from tests.fixtures.feature_jobs import UniqueJob
from tests.fixtures.jobs import RecordJob

RACERS = 8


def test_a_unique_job_dispatched_by_racing_threads_is_stored_once(backend: Backend, witness):
    backend.manager.connection(backend.connection)  # built once, before the race
    barrier = threading.Barrier(RACERS)
    ids: list[str | None] = []
    errors: list[BaseException] = []

    def racer() -> None:
        try:
            barrier.wait(10)
            ids.append(UniqueJob(witness, 42).on_connection(backend.connection).dispatch())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=racer) for _ in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    stored = [i for i in ids if i is not None]
    assert len(ids) == RACERS and len(stored) == 1
    assert backend.manager.size("default", backend.connection) == 1
    owner = backend.manager.locks.owner(lock_key(UniqueJob(witness, 42)))
    assert owner is not None and owner.endswith(stored[0])


def test_the_pending_status_is_visible_as_soon_as_dispatch_returns(backend: Backend, witness):
    job_id = RecordJob(str(witness), "hello").on_connection(backend.connection).dispatch()
    assert job_id is not None
    status = backend.manager.statuses.get(job_id)
    assert status is not None and status.state == JobState.PENDING


def test_a_refused_duplicate_leaves_no_status_and_keeps_its_job_id(backend: Backend, witness):
    assert UniqueJob(witness, 5).on_connection(backend.connection).dispatch() is not None
    again = UniqueJob(witness, 5)
    before = again.job_id
    assert again.on_connection(backend.connection).dispatch() is None
    assert again.job_id == before
    assert backend.manager.size("default", backend.connection) == 1


def test_redis_dispatch_is_one_command_carrying_record_status_and_lock(redis_server, queue_env, monkeypatch, witness):
    from tests.servers_redis import use_redis

    use_redis(redis_server, monkeypatch)
    UniqueJob(witness, 1).dispatch()  # warm up: connections made, scripts loaded
    probe = redis.Redis(port=redis_server.port, decode_responses=True)
    marker = redis.Redis(port=redis_server.port)
    marker.ping()  # connected before the watch starts
    with probe.monitor() as monitor:
        job_id = UniqueJob(witness, 2).dispatch()
        marker.echo("end-of-dispatch")
        sent: list[str] = []
        while True:
            command = monitor.next_command()
            if "end-of-dispatch" in command["command"]:
                break
            if command["client_type"] != "lua":
                sent.append(command["command"].split(" ", 1)[0].upper())
    assert job_id is not None
    assert [c for c in sent if c != "XADD"] == ["EVALSHA"]  # XADD: the audit trail, when its buffer is due
    stored = probe.get(f"queues:cache:status:{job_id}")
    assert stored is not None and json.loads(stored.split("|", 1)[1])["state"] == "pending"
    owner = queue_env.locks.owner(lock_key(UniqueJob(witness, 2)))
    assert owner is not None and owner.endswith(job_id)


def test_redis_dispatch_takes_an_expired_lock_and_refuses_a_live_one(redis_server, queue_env, monkeypatch, witness):
    from tests.servers_redis import use_redis

    use_redis(redis_server, monkeypatch)
    probe = redis.Redis(port=redis_server.port, decode_responses=True)
    key = "queues:lock:" + lock_key(UniqueJob(witness, 3))
    probe.set(key, "1|someone-long-gone")  # expired in 1970
    assert UniqueJob(witness, 3).dispatch() is not None
    probe.set(key, "not-a-number|garbage")  # an unreadable expiry counts as expired, never a script error
    assert UniqueJob(witness, 3).dispatch() is not None
    assert UniqueJob(witness, 3).dispatch() is None  # the lock the last dispatch took is live
    assert queue_env.size("default", "redis") == 2
