"""Redis-specific behaviour of the queue driver: keys, scripts, blocking pops, reservations, errors."""
from __future__ import annotations

import threading
import time

import pytest
from freezegun import freeze_time
from redis.crc import key_slot

from app.Queue import LuaScripts
from app.Queue.Drivers.RedisQueue import RedisQueue
from app.Queue.QueueManager import QueueManager
from tests.servers_redis import RedisServer, use_redis
from tests.support import artisan

WORKER = "w1"


@pytest.fixture
def redis_env(redis_server: RedisServer, queue_env: QueueManager, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return use_redis(redis_server, monkeypatch)


@pytest.fixture
def driver(redis_env: dict[str, str], queue_env: QueueManager) -> RedisQueue:
    d = queue_env.connection("redis")
    assert isinstance(d, RedisQueue)
    return d


def _evalsha_calls(client) -> int:  # type: ignore[no-untyped-def]
    stats = client.info("commandstats")
    return sum(v["calls"] for k, v in stats.items() if k in ("cmdstat_evalsha", "cmdstat_eval"))


def test_every_key_of_a_queue_carries_its_hash_tag(driver: RedisQueue, redis_server: RedisServer):
    driver.push('"now"', "default")
    driver.push('"later"', "default", delay=60)
    driver.pop("default", WORKER)
    driver.push('"waiting"', "default")
    keys = set(redis_server.client().keys("*"))
    assert {"queues:{default}", "queues:{default}:delayed", "queues:{default}:reserved", "queues:{default}:notify"} <= keys
    queue_keys = [k for k in keys if "cache:" not in k]
    assert all(k.startswith("queues:{default}") for k in queue_keys)
    assert len({key_slot(k.encode()) for k in queue_keys}) == 1  # one Redis Cluster slot per queue


def test_queue_prefix_is_configurable(redis_server: RedisServer, redis_env, queue_env: QueueManager, monkeypatch):
    monkeypatch.setenv("QUEUE_PREFIX", "app1:")
    queue_env.reset()
    queue_env.connection("redis").push('"x"', "emails")
    assert "app1:{emails}" in redis_server.client().keys("app1:*")


def test_each_operation_is_one_script_call(driver: RedisQueue, redis_server: RedisServer):
    client = redis_server.client()
    driver.push('"x"', "default")  # loads the scripts once (EVALSHA falls back to SCRIPT LOAD)
    driver.pop("default", WORKER).release(0)
    driver.pop("default", WORKER).delete()
    client.config_resetstat()
    driver.push('"y"', "default")
    job = driver.pop("default", WORKER)
    assert _evalsha_calls(client) == 2
    assert job.release(0) is True
    assert _evalsha_calls(client) == 3


def test_scripts_are_documented_and_registered_per_driver(driver: RedisQueue, queue_env: QueueManager):
    for name in ("PUSH", "POP", "DELETE_AND_POP", "RELEASE", "RENEW", "SIZE", "CLEAR"):
        body = getattr(LuaScripts, name)
        header = body.split('"""')[0] if '"""' in body else body
        assert "-- KEYS[1]" in header, name
    other = RedisQueue("redis", queue_env.connection_config("redis"), lambda q: 30)
    assert other._pop is not driver._pop and other._pop.sha == driver._pop.sha
    other.close()


def test_attempts_are_kept_beside_the_payload_which_comes_back_unchanged(driver: RedisQueue):
    payload = '{"signed":"bytes ✓ | with | pipes","signature":"abc"}'
    driver.push(payload, "default")
    for attempt in (1, 2, 3):
        job = driver.pop("default", WORKER)
        assert (job.payload, job.attempts) == (payload, attempt)
        job.release(0)


def test_blocking_pop_wakes_soon_after_a_push(driver: RedisQueue, queue_env: QueueManager):
    result: dict[str, float | object] = {}

    def wait() -> None:
        job = driver.pop_blocking(["default"], WORKER, timeout=60)
        result["job"], result["at"] = job, time.monotonic()

    thread = threading.Thread(target=wait)
    thread.start()
    time.sleep(0.3)  # the waiter is now blocked in BLPOP
    pusher = RedisQueue("redis", queue_env.connection_config("redis"), lambda q: 30)
    pushed_at = time.monotonic()
    pusher.push('"wake"', "default")
    thread.join(60)
    pusher.close()
    latency = float(result["at"]) - pushed_at  # type: ignore[arg-type]
    print(f"blocking pop woke {latency * 1000:.2f} ms after the push")
    # Woken by the push, not by its 60 s timeout (the speed itself is measured by bench/, not here).
    assert result["job"].payload == '"wake"' and latency < 20  # type: ignore[union-attr]


def test_blocking_pop_returns_none_after_its_timeout(driver: RedisQueue):
    started = time.monotonic()
    assert driver.pop_blocking(["default"], WORKER, timeout=0.2) is None
    assert 0.15 < time.monotonic() - started < 20  # it waited, and it did return


def test_block_for_caps_one_blocking_wait(redis_env, queue_env: QueueManager, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("REDIS_BLOCK_FOR", "0.2")
    queue_env.reset()
    started = time.monotonic()
    assert queue_env.connection("redis").pop_blocking(["default"], WORKER, timeout=120) is None
    assert time.monotonic() - started < 60  # capped at REDIS_BLOCK_FOR, far below the 120 s asked for


def test_blocking_pop_wakes_when_a_delayed_job_comes_due(driver: RedisQueue):
    driver.push('"soon"', "default", delay=0.3)
    started = time.monotonic()
    job = driver.pop_blocking(["default"], WORKER, timeout=60)
    assert job is not None and job.payload == '"soon"' and time.monotonic() - started < 20  # not at the 60 s timeout


def test_blocking_pop_takes_queues_in_strict_order(driver: RedisQueue):
    driver.push('"low"', "low")
    driver.push('"high"', "high")
    assert driver.pop_blocking(["high", "low"], WORKER, timeout=1).payload == '"high"'
    assert driver.pop_blocking(["high", "low"], WORKER, timeout=1).payload == '"low"'


def test_delete_and_pop_acks_and_reserves_the_next_job(driver: RedisQueue):
    driver.push('"1"', "default")
    driver.push('"2"', "default")
    first = driver.pop("default", WORKER)
    second = first.delete_and_pop(["default"], WORKER)
    assert second is not None and second.payload == '"2"'
    assert (driver.sizes("default").reserved, driver.sizes("default").pending) == (1, 0)
    assert second.delete_and_pop(["default"], WORKER) is None
    assert driver.sizes("default").total == 0


def test_delete_and_pop_respects_queue_order_when_the_job_came_from_a_later_queue(driver: RedisQueue):
    driver.push('"low"', "low")
    job = driver.pop("low", WORKER)
    driver.push('"high"', "high")
    driver.push('"low2"', "low")
    assert job.delete_and_pop(["high", "low"], WORKER).payload == '"high"'


def test_stale_holder_cannot_ack_through_delete_and_pop(driver: RedisQueue, caplog: pytest.LogCaptureFixture):
    with freeze_time() as clock:
        driver.push('"x"', "default")
        stale = driver.pop("default", WORKER)
        clock.tick(stale.retry_after + 1)
        fresh = driver.pop("default", "w2")
        assert stale.delete_and_pop(["default"], WORKER) is None
        assert driver.sizes("default").reserved == 1
        assert "reservation was lost" in caplog.text
        assert stale.renew() is False
        assert fresh.delete() is True


def test_released_and_expired_jobs_keep_their_priority(driver: RedisQueue):
    with freeze_time() as clock:
        driver.push('"low"', "default", priority=0)
        driver.push('"high"', "default", priority=9)
        high = driver.pop("default", WORKER)
        high.release(5)
        clock.tick(6)
        assert driver.pop("default", WORKER).payload == '"high"'
        clock.tick(high.retry_after + 1)  # the lease of that second reservation expires
        assert driver.pop("default", WORKER).payload == '"high"'


def test_many_workers_never_share_a_reservation(driver: RedisQueue, queue_env: QueueManager):
    driver.bulk([__import__("app.Queue.contracts", fromlist=["PushItem"]).PushItem(f'"{i}"', "race") for i in range(400)])
    seen: list[str] = []
    lock = threading.Lock()

    def drain(name: str) -> None:
        d = RedisQueue("redis", queue_env.connection_config("redis"), lambda q: 30)
        while (job := d.pop("race", name)) is not None:
            with lock:
                seen.append(job.payload)
            job.delete()
        d.close()

    threads = [threading.Thread(target=drain, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(seen) == sorted(f'"{i}"' for i in range(400))


def test_unreachable_server_is_one_clear_line_naming_host_and_port(redis_server: RedisServer):
    out = artisan("queue:work", "redis", "--once", env={"REDIS_HOST": "127.0.0.1", "REDIS_PORT": "1", "QUEUE_CONNECTION": "redis"})
    text = (out.stdout + out.stderr).strip()
    assert out.returncode == 1
    assert "Traceback" not in text and len(text.splitlines()) == 1
    assert "cannot connect to Redis at 127.0.0.1:1" in text and "REDIS_HOST/REDIS_PORT" in text


def test_bulk_over_several_chunks_and_queues_keeps_order_and_priority(driver: RedisQueue):
    from app.Queue.contracts import PushItem

    items = [PushItem(f'"a{i}"', "a") for i in range(2500)] + [PushItem('"b"', "b"), PushItem('"urgent"', "a", priority=5)]
    driver.bulk(items)
    assert (driver.sizes("a").pending, driver.sizes("b").pending) == (2501, 1)
    assert driver.pop("a", WORKER).payload == '"urgent"'
    assert [driver.pop("a", WORKER).payload for _ in range(2500)] == [f'"a{i}"' for i in range(2500)]
    assert driver.client.llen(driver.keys("a").notify) == 0  # one wake-up token per ready job, all consumed


def test_blocking_pop_on_several_queues_wakes_on_a_push_to_any_of_them(driver: RedisQueue, queue_env: QueueManager):
    got: list[object] = []
    thread = threading.Thread(target=lambda: got.append(driver.pop_blocking(["high", "low"], WORKER, timeout=60)))
    thread.start()
    time.sleep(0.3)
    pusher = RedisQueue("redis", queue_env.connection_config("redis"), lambda q: 30)
    pushed_at = time.monotonic()
    pusher.push('"low"', "low")
    thread.join(60)
    pusher.close()
    assert got and got[0].payload == '"low"' and time.monotonic() - pushed_at < 20  # type: ignore[attr-defined]


def test_bulk_stream_sends_chunks_while_the_caller_still_builds_them(driver: RedisQueue, redis_server: RedisServer):
    from app.Queue.contracts import PushItem
    from app.Queue.Drivers.RedisQueue import STREAM_CHUNK

    seen_by_server: list[int] = []
    observer = redis_server.client()

    def items():  # type: ignore[no-untyped-def]
        for i in range(STREAM_CHUNK * 2 + 1):
            if i == STREAM_CHUNK + 1:
                time.sleep(0.2)  # the first chunk was sent when it filled, before the generator went on
                seen_by_server.append(observer.zcard(driver.keys("stream").pending))
            yield PushItem(f'"{i}"', "stream")

    driver.bulk_stream(items(), {"stream": STREAM_CHUNK * 2 + 1})
    assert seen_by_server == [STREAM_CHUNK]
    assert [driver.pop("stream", WORKER).payload for _ in range(3)] == ['"0"', '"1"', '"2"']
    assert driver.sizes("stream").pending == STREAM_CHUNK * 2 + 1 - 3


def test_a_failed_chunk_raises_and_the_connection_stays_usable(driver: RedisQueue, redis_server: RedisServer):
    import redis

    redis_server.client().set(driver.keys("broken").pending, "not a zset")  # ZADD fails inside the chunk's script
    from app.Queue.contracts import PushItem

    with pytest.raises(redis.ResponseError):
        driver.bulk([PushItem('"a"', "fine"), PushItem('"b"', "broken"), PushItem('"c"', "fine2")])
    assert driver.sizes("fine").pending == 1 and driver.sizes("fine2").pending == 1  # the other chunks were stored
    driver.push('"d"', "fine")
    assert driver.sizes("fine").pending == 2


def test_bulk_records_have_the_layout_push_gives_them(driver: RedisQueue, redis_server: RedisServer):
    from app.Queue.contracts import PushItem

    client = redis_server.client()
    k = driver.keys("layout")
    with freeze_time("2030-01-01"):
        driver.push('"one"', "layout", priority=5)
        driver.push('"later"', "layout", delay=30, priority=2)
        driver.bulk([PushItem('"two"', "layout", priority=5), PushItem('"later2"', "layout", delay=30, priority=2)])
    ready = client.zrange(k.pending, 0, -1, withscores=True)
    later = client.zrange(k.delayed, 0, -1, withscores=True)
    strip = lambda rows: [(rec.split("|", 1)[1], score) for rec, score in rows]  # noqa: E731 - drop the seq
    assert strip(ready) == [('5|0||"one"', -5.0), ('5|0||"two"', -5.0)]
    assert [(r.replace("later2", "later"), s) for r, s in strip(later)] == [('2|0||"later"', later[0][1])] * 2
    seqs = [int(rec.split("|", 1)[0]) for rec, _ in ready + later]
    assert len(set(seqs)) == 4 and all(len(rec.split("|", 1)[0]) == 15 for rec, _ in ready)
    assert client.llen(k.notify) == 2


def test_bulk_stream_takes_more_sequence_numbers_when_given_more_jobs_than_announced(driver: RedisQueue):
    from app.Queue.contracts import PushItem

    driver.bulk_stream((PushItem(f'"{i}"', "over") for i in range(5)), {"over": 2})
    assert [driver.pop("over", WORKER).payload for _ in range(5)] == [f'"{i}"' for i in range(5)]


def _wait_in_thread(driver: RedisQueue, timeout: float) -> tuple[threading.Thread, dict[str, object]]:
    result: dict[str, object] = {}

    def wait() -> None:
        result["job"] = driver.pop_blocking(["default"], WORKER, timeout=timeout)

    thread = threading.Thread(target=wait)
    thread.start()
    time.sleep(0.3)  # the waiter is now blocked in BLPOP, its claim queued behind it
    return thread, result


def test_a_claim_sent_with_the_wait_leases_the_job_from_when_it_runs(driver: RedisQueue, queue_env: QueueManager,
                                                                     redis_server: RedisServer):
    """The claim rides behind the BLPOP, so its `now` is taken before the wait: the lease it sets is
    never shorter than retry_after from the claim itself, and at most the wait longer."""
    thread, result = _wait_in_thread(driver, timeout=3)
    pusher = RedisQueue("redis", queue_env.connection_config("redis"), lambda q: 30)
    pushed_at = time.time()
    pusher.push('"wake"', "default")
    thread.join(20)
    joined_at = time.time()  # after the claim was sent, however late the thread ran
    pusher.close()
    job = result["job"]
    assert job is not None and job.payload == '"wake"'  # type: ignore[attr-defined]
    (_, until), = redis_server.client().zrange(driver.keys("default").reserved, 0, -1, withscores=True)
    lease = driver.retry_after("default")
    assert pushed_at + lease <= until <= joined_at + 3 + lease


def test_a_wait_whose_claim_script_the_server_lost_still_takes_the_job(driver: RedisQueue, queue_env: QueueManager,
                                                                       redis_server: RedisServer):
    assert driver.pop_blocking(["default"], WORKER, timeout=0.05) is None  # the held connection has loaded its scripts
    thread, result = _wait_in_thread(driver, timeout=30)
    redis_server.client().script_flush()
    pusher = RedisQueue("redis", queue_env.connection_config("redis"), lambda q: 30)
    pusher.push('"after flush"', "default")
    thread.join(20)
    pusher.close()
    assert not thread.is_alive()
    assert result["job"] is not None and result["job"].payload == '"after flush"'  # type: ignore[attr-defined]


def test_a_claim_that_starts_its_jobs_counts_their_attempts_so_an_ack_from_another_connection_holds(driver: RedisQueue):
    # A concurrent worker's batch of async jobs: claimed on a slot thread's connection, acked without a reply
    # on the settler's. With the attempts counted by the claim there is no BEGIN for that ack to overtake.
    for n in range(5):
        driver.push(f'"{n}"', "high" if n < 3 else "low")
    jobs = driver.pop_many_started(["empty", "high", "low"], WORKER, 2)
    assert [(j.payload, j.queue, j.attempts) for j in jobs] == [('"0"', "high", 1), ('"1"', "high", 1)]
    held = driver.pop_many(["high"], WORKER, 5)  # a plain batch claim still leaves attempts to BEGIN
    assert [(j.payload, j.attempts) for j in held] == [('"2"', 0)]
    settler = driver.for_thread()
    try:
        settler.ack_many_nowait(jobs)  # sent at once, no BEGIN in between
    finally:
        settler.close()
    assert (driver.sizes("high").reserved, driver.sizes("high").total) == (1, 1)
    held[0].release(0, undo_attempt=True)
    again = driver.pop_many_started(["high"], WORKER, 5)
    assert [(j.payload, j.attempts) for j in again] == [('"2"', 1)]  # the claim is the attempt
    again[0].release(0)
    assert [(j.payload, j.attempts) for j in driver.pop_many_started(["high"], WORKER, 5)] == [('"2"', 2)]
    assert driver.pop_many_started(["empty"], WORKER, 3) == []
