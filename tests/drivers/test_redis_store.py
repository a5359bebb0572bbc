"""Redis cache store, Redis failed-job list, and the worker end to end on Redis."""
from __future__ import annotations

import json
import time

import pytest
from freezegun import freeze_time

from app.Jobs.Job import Job, JobState
from app.Queue.Cache.RedisStore import RedisStore
from app.Queue.Drivers.RedisFailedJobs import RedisFailedJobProvider
from app.Queue.QueueManager import QueueManager
from app.Queue.Worker import Worker
from app.Queue.WorkerOptions import WorkerOptions
from tests.conftest import read_lines
from tests.fixtures.jobs import FailingJob, RecordJob
from tests.servers_redis import RedisServer, use_redis


@pytest.fixture
def redis_env(redis_server: RedisServer, queue_env: QueueManager, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return use_redis(redis_server, monkeypatch)


@pytest.fixture
def store(redis_env: dict[str, str], queue_env: QueueManager) -> RedisStore:
    cache = queue_env.cache
    assert isinstance(cache, RedisStore)
    return cache


def test_put_get_forget_round_trip_json(store: RedisStore):
    store.put("k", {"a": [1, 2], "b": "ü"})
    assert store.get("k") == {"a": [1, 2], "b": "ü"}
    store.forget("k")
    assert store.get("k") is None


def test_add_writes_only_when_absent_or_expired(store: RedisStore):
    with freeze_time() as clock:
        assert store.add("lock", "a", ttl=10) is True
        assert store.add("lock", "b", ttl=10) is False
        assert store.get("lock") == "a"
        clock.tick(11)
        assert store.get("lock") is None
        assert store.add("lock", "c", ttl=10) is True
        assert store.get("lock") == "c"


def test_increment_creates_with_ttl_and_restarts_after_expiry(store: RedisStore):
    with freeze_time() as clock:
        assert store.increment("hits", 1, ttl=60) == 1
        assert store.increment("hits", 2, ttl=60) == 3
        clock.tick(30)
        assert store.increment("hits", 1, ttl=60) == 4  # the window does not slide
        clock.tick(31)
        assert store.increment("hits", 1, ttl=60) == 1


def test_server_ttl_reclaims_keys_with_real_time(store: RedisStore, redis_server: RedisServer):
    store.put("short", 1, ttl=0.05)
    store.increment("counter", 1, ttl=0.05)
    store.put("forever", 1)
    client = redis_server.client()
    assert client.pttl(store.key("short")) > 0 and client.pttl(store.key("counter")) > 0
    assert client.pttl(store.key("forever")) == -1
    time.sleep(0.1)
    assert store.get("short") is None and store.increment("counter", 1, ttl=10) == 1


def test_many_reads_several_keys_in_one_call(store: RedisStore):
    with freeze_time() as clock:
        store.put("a", 1)
        store.put("b", 2, ttl=1)
        clock.tick(2)
        assert store.many(["a", "b", "c"]) == {"a": 1}


def test_flush_prefix_deletes_matching_keys_only(store: RedisStore):
    store.put("status:1", 1)
    store.put("status:2", 2)
    store.put("other", 3)
    assert store.flush_prefix("status:") == 2
    assert store.get("other") == 3


def test_failed_jobs_in_redis_keep_one_record_per_uuid(redis_env, redis_server: RedisServer, queue_env: QueueManager):
    failed = RedisFailedJobProvider.from_config(queue_env.connection_config("redis"))
    failed.log("redis", "default", '"p1"', "RuntimeError: one", "u1")
    failed.log("redis", "emails", '"p2"', "RuntimeError: two", "u2")
    failed.log("redis", "default", '"p1"', "RuntimeError: again", "u1")
    assert [r.uuid for r in failed.all()] == ["u1", "u2"]  # the repeated failure is the newest, under a new id
    assert failed.ids() == ["u2", "u1"] and failed.ids("emails") == ["u2"]
    assert failed.count() == 2 and failed.count("default") == 1 and failed.find("1") is None
    record = failed.find("3")
    assert record is not None and record.uuid == "u1" and record.exception == "RuntimeError: again"
    assert failed.find("u2").queue == "emails"
    assert failed.forget("u2") is True and failed.forget("u2") is False
    with freeze_time() as clock:
        clock.tick(3 * 3600)
        failed.log("redis", "default", '"p3"', "E: new", "u3")
        assert failed.flush(older_than_hours=1) == 1  # u1 failed three hours "ago"
        assert failed.ids() == ["u3"]
    assert failed.flush() == 1 and failed.count() == 0
    failed.close()


def test_worker_runs_jobs_on_redis_and_records_statuses(redis_env, queue_env: QueueManager, witness):
    ids = [RecordJob.dispatch(str(witness), f"r{i}") for i in range(20)]
    assert Job.status(ids[0]).state is JobState.PENDING
    status = Worker(queue_env, WorkerOptions(memory=0, stop_when_empty=True, sleep=0.1)).daemon("redis", ["default"])
    assert status == 0
    assert sorted(read_lines(witness)) == sorted(f"r{i} {job_id} 1" for i, job_id in enumerate(ids))
    assert all(Job.status(i).state is JobState.COMPLETED for i in ids)
    assert queue_env.size("default", "redis") == 0


def test_failed_job_goes_to_the_redis_list_without_a_database(redis_env, queue_env: QueueManager, monkeypatch, witness):
    monkeypatch.setenv("QUEUE_FAILED_DRIVER", "redis")
    queue_env.reset()
    job_id = FailingJob.dispatch(str(witness))
    Worker(queue_env, WorkerOptions(memory=0, stop_when_empty=True, sleep=0, max_tries=3)).daemon("redis", ["default"])
    assert isinstance(queue_env.failed, RedisFailedJobProvider)
    record = queue_env.failed.find(job_id)
    assert record is not None and record.exception.startswith("RuntimeError: boom")
    assert Job.status(job_id).state is JobState.FAILED


def test_put_many_writes_every_entry_with_its_ttl(store: RedisStore):
    with freeze_time() as clock:
        store.put_many([("a", 1, None), ("b", {"x": 2}, 5)])
        assert store.many(["a", "b"]) == {"a": 1, "b": {"x": 2}}
        clock.tick(6)
        assert store.many(["a", "b"]) == {"a": 1}


def test_a_job_fetched_ahead_by_a_stopping_worker_goes_back_without_using_an_attempt(redis_env, queue_env: QueueManager, witness):
    first, second = RecordJob.dispatch(str(witness), "a"), RecordJob.dispatch(str(witness), "b")
    Worker(queue_env, WorkerOptions(memory=0, max_jobs=1, sleep=0.1)).daemon("redis", ["default"])  # acks the first, fetches the second
    assert read_lines(witness) == [f"a {first} 1"]
    job = queue_env.connection("redis").pop("default", "w")
    assert job is not None and job.attempts == 1 and second in job.payload


def test_pipelined_put_is_seen_by_this_thread_at_once_and_by_others_after_sync(store: RedisStore, redis_server: RedisServer):
    for i in range(50):
        store.put(f"p{i}", i)
        assert store.get(f"p{i}") == i  # same connection, in order
    store.put("last", "v")
    store.lane.sync()
    assert redis_server.client().get(store.key("last")) == '|"v"'


def test_put_from_another_thread_is_written_synchronously(store: RedisStore, redis_server: RedisServer):
    import threading

    thread = threading.Thread(target=store.put, args=("t", 1))
    thread.start()
    thread.join(5)
    assert redis_server.client().get(store.key("t")) == "|1"


def test_put_all_writes_one_value_under_every_key_with_its_ttl(store: RedisStore, redis_server: RedisServer):
    with freeze_time() as clock:
        store.put_all(["p1", "p2", "p3"], {"state": "pending"}, 5)
        store.put_all(["forever"], 7)
        assert store.many(["p1", "p2", "p3", "forever"]) == {"p1": {"state": "pending"}, "p2": {"state": "pending"},
                                                             "p3": {"state": "pending"}, "forever": 7}
        assert 0 < redis_server.client().pttl(store.key("p2")) <= 5000 + 60_000  # the server reclaims it too
        clock.tick(6)
        assert store.many(["p1", "p2", "p3", "forever"]) == {"forever": 7}


def test_bulk_dispatch_on_redis_marks_every_job_pending(redis_env, queue_env: QueueManager, witness):
    ids = queue_env.bulk([RecordJob(str(witness), str(i)) for i in range(600)])
    assert all(Job.status(job_id).state is JobState.PENDING for job_id in ids)
    assert queue_env.size() == 600


@freeze_time("2026-01-02 03:04:05.678")
def test_a_pending_status_spelt_from_the_template_is_stored_byte_for_byte_as_put_stores_it(
        store: RedisStore, queue_env: QueueManager):
    statuses = queue_env.statuses
    assert statuses._put_encoded is not None  # the Redis store takes JSON text: the template is used
    statuses.mark("tmpl", JobState.PENDING)
    store.put("status:generic", {"state": "pending", "attempts": 0, "progress": 0.0, "updated_at": time.time(),
                                 "error": None}, statuses.ttl)
    templated, generic = store.held.execute("MGET", store.key("status:tmpl"), store.key("status:generic"))
    assert templated == generic
    assert store.client.pttl(store.key("status:tmpl")) > 0  # with the server TTL put gives it
    status = statuses.get("tmpl")
    assert status is not None and (status.state, status.attempts, status.progress) == (JobState.PENDING, 0, 0.0)


@freeze_time("2026-01-02 03:04:05.678")
def test_put_many_stores_each_entry_byte_for_byte_as_put_stores_it(store: RedisStore):
    # put_many spells the expiry once per ttl and encodes with a kept encoder: the bytes must stay put's
    values = [("n1", {"state": "completed", "attempts": 1, "progress": 100.0, "updated_at": time.time(), "error": None,
                      "done": "ab" * 32}, 86400.0),
              ("n2", {"ü": "é\u2028\"", "big": 2**70, "f": 0.1}, 86400.0), ("n3", [1, None, True], 5),
              ("n4", "text", None), ("n5", 3.5, 0.001)]
    store.put_many([(f"many:{k}", v, ttl) for k, v, ttl in values])
    for k, v, ttl in values:
        store.put(f"one:{k}", v, ttl)
    store.lane.sync()
    client = store.client
    for k, v, ttl in values:
        many, one = client.get(store.key(f"many:{k}")), client.get(store.key(f"one:{k}"))
        assert many == one == ("|" if ttl is None else f"{time.time() + ttl!r}|") + json.dumps(v)
        assert (client.pttl(store.key(f"many:{k}")) > 0) is (ttl is not None)
