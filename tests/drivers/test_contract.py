"""The driver contract: the same behaviour on every backend (sqlite, mariadb, redis)."""
from __future__ import annotations

import time

from freezegun import freeze_time

from app.Queue.contracts import PushItem
from app.Queue.QueueManager import QueueManager
from tests.drivers.conftest import Backend
from tests.drivers.conftest import cluster_backend

backend = cluster_backend  # this file also runs on a Redis Cluster (id "redis-cluster")

WORKER = "test-worker"


def test_pushed_payload_is_popped_once_with_attempt_one(backend: Backend):
    d = backend.driver()
    d.push('{"a":1}', "default")
    job = d.pop("default", WORKER)
    assert job is not None and job.payload == '{"a":1}' and job.attempts == 1 and job.queue == "default"
    assert d.pop("default", WORKER) is None
    assert job.delete() is True
    assert d.sizes("default").total == 0


def test_jobs_come_out_oldest_first_within_one_priority(backend: Backend):
    d = backend.driver()
    for i in range(5):
        d.push(f'{{"i":{i}}}', "default")
    assert [d.pop("default", WORKER).payload for _ in range(5)] == [f'{{"i":{i}}}' for i in range(5)]


def test_higher_priority_runs_first(backend: Backend):
    d = backend.driver()
    d.push('"low"', "default", priority=0)
    d.push('"high"', "default", priority=10)
    d.push('"mid"', "default", priority=5)
    assert [d.pop("default", WORKER).payload for _ in range(3)] == ['"high"', '"mid"', '"low"']


def test_queues_are_separate(backend: Backend):
    d = backend.driver()
    d.push('"e"', "emails")
    assert d.pop("default", WORKER) is None
    assert d.pop("emails", WORKER).payload == '"e"'


def test_delayed_job_is_invisible_until_due(backend: Backend):
    d = backend.driver()
    with freeze_time() as clock:
        d.push('"later"', "default", delay=10)
        assert d.pop("default", WORKER) is None
        sizes = d.sizes("default")
        assert (sizes.pending, sizes.delayed, sizes.reserved) == (0, 1, 0)
        clock.tick(11)
        job = d.pop("default", WORKER)
        assert job is not None and job.payload == '"later"'


def test_release_keeps_attempts_and_respects_delay(backend: Backend):
    d = backend.driver()
    with freeze_time() as clock:
        d.push('"x"', "default")
        first = d.pop("default", WORKER)
        assert first.release(5) is True
        assert d.pop("default", WORKER) is None
        clock.tick(6)
        second = d.pop("default", WORKER)
        assert second.attempts == 2


def test_release_without_using_an_attempt(backend: Backend):
    d = backend.driver()
    d.push('"x"', "default")
    d.pop("default", WORKER).release(0, undo_attempt=True)
    assert d.pop("default", WORKER).attempts == 1


def test_expired_lease_makes_job_available_and_old_holder_cannot_ack(backend: Backend):
    d = backend.driver()
    with freeze_time() as clock:
        d.push('"x"', "default")
        stale = d.pop("default", WORKER)
        clock.tick(stale.retry_after + 1)
        fresh = d.pop("default", "other-worker")
        assert fresh is not None and fresh.attempts == 2
        assert stale.delete() is False
        assert stale.release(0) is False
        assert fresh.delete() is True
    assert d.sizes("default").total == 0


def test_renewed_lease_keeps_job_reserved(backend: Backend):
    d = backend.driver()
    with freeze_time() as clock:
        d.push('"x"', "default")
        job = d.pop("default", WORKER)
        for _ in range(3):
            clock.tick(job.retry_after * 0.6)
            assert job.renew() is True
            assert d.pop("default", "other-worker") is None
        assert d.sizes("default").reserved == 1


def test_bulk_stores_every_item_in_order(backend: Backend):
    d = backend.driver()
    d.bulk([PushItem(f'"{i}"', "bulk") for i in range(50)] + [PushItem('"d"', "bulk", delay=60)])
    sizes = d.sizes("bulk")
    assert (sizes.pending, sizes.delayed) == (50, 1)
    assert [d.pop("bulk", WORKER).payload for _ in range(50)] == [f'"{i}"' for i in range(50)]


def test_bulk_keeps_payload_bytes_priority_and_delay_as_push_does(backend: Backend):
    d = backend.driver()
    odd = ['{"q":"\\"quo\\\\te\\", 100%s %(x)s ?"}', '{"u":"ünïcødé ✓"}', '{"e":""}']
    with freeze_time("2030-01-01 00:00:00") as clock:
        d.bulk([PushItem(odd[0], "bk", priority=2), PushItem(odd[1], "bk", delay=30), PushItem(odd[2], "bk", priority=-1),
                PushItem('"plain"', "bk")])
        sizes = d.sizes("bk")
        assert (sizes.pending, sizes.delayed) == (3, 1)
        ready = [d.pop("bk", WORKER) for _ in range(3)]
        assert [job.payload for job in ready] == [odd[0], '"plain"', odd[2]]  # priority, then order
        assert d.pop("bk", WORKER) is None
        assert all(job.delete() for job in ready)
        clock.tick(31)
        assert d.pop("bk", WORKER).payload == odd[1]


def test_clear_deletes_only_that_queue(backend: Backend):
    d = backend.driver()
    for i in range(3):
        d.push('"a"', "a")
    d.push('"b"', "b")
    d.pop("a", WORKER)
    assert d.clear("a") == 3
    assert d.sizes("a").total == 0 and d.sizes("b").total == 1
    assert "b" in d.queues()


def test_sizes_split_pending_delayed_reserved(backend: Backend):
    d = backend.driver()
    d.push('"1"', "s")
    d.push('"2"', "s")
    d.push('"3"', "s", delay=100)
    d.pop("s", WORKER)
    sizes = d.sizes("s")
    assert (sizes.pending, sizes.delayed, sizes.reserved, sizes.total) == (1, 1, 1, 3)


def test_payload_bytes_round_trip_unchanged(backend: Backend):
    d = backend.driver()
    payload = '{"k":"ünïcødé ✓","n":[1,2,3],"s":"' + "x" * 70000 + '"}'
    d.push(payload, "default")
    assert d.pop("default", WORKER).payload == payload


def test_pop_is_fast_enough_to_drain_many(backend: Backend):
    d = backend.driver()
    d.bulk([PushItem(f'"{i}"', "many") for i in range(300)])
    seen = set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = d.pop("many", WORKER)
        if job is None:
            break
        seen.add(job.payload)
        job.delete()
    assert len(seen) == 300


def test_manager_size_counts_pending_delayed_and_reserved(backend: Backend):
    from tests.fixtures.jobs import NoopJob

    qm: QueueManager = backend.manager
    NoopJob().on_connection(backend.connection).dispatch()
    NoopJob().on_connection(backend.connection).delay(60).dispatch()
    assert qm.size("default", backend.connection) == 2
    stats = qm.get_stats("default", backend.connection)
    assert (stats.pending, stats.delayed, stats.reserved, stats.failed) == (1, 1, 0, 0)
