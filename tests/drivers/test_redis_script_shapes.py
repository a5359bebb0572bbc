"""The Redis hot scripts' short cuts give what the long way gave.

DISPATCH takes only the arguments a dispatch has (its ARGV count says which writes come), a claim
rewrites the driver's own members by copying their seq and priority text, and an ack refreshes the
done set's TTL only when its marker would outlive it. Each test pins one of these to the bytes,
scores and TTLs the scripts wrote before they took the short cut.
"""
from __future__ import annotations

import pytest
from freezegun import freeze_time

from app.Queue.contracts import PushItem
from app.Queue.Drivers.RedisQueue import DONE_REFRESH, RedisQueue
from app.Queue.QueueManager import QueueManager
from app.Queue.errors import ConnectionUnavailableError
from app.Queue.Redis.dispatch_writes import DispatchWrites, LockTake
from app.Queue.Support.time import now
from tests.servers_redis import RedisServer, use_redis

WORKER = "w1"
SIG = "ab" * 32


@pytest.fixture
def driver(redis_server: RedisServer, queue_env: QueueManager, monkeypatch: pytest.MonkeyPatch) -> RedisQueue:
    use_redis(redis_server, monkeypatch)
    d = queue_env.connection("redis")
    assert isinstance(d, RedisQueue)
    return d


def _signed(n: int) -> str:
    """A payload ending the way a signed one does (what the done set's signature() reads)."""
    signature = f"{n:02x}" * 32
    return f'{{"n":{n},"signature":"{signature}"}}'


@pytest.mark.parametrize("delay", [0, 30])
@pytest.mark.parametrize("status", [False, True])
@pytest.mark.parametrize("lock", [False, True])
def test_dispatch_writes_exactly_what_it_carries(driver: RedisQueue, redis_server: RedisServer, delay: int,
                                                 status: bool, lock: bool):
    client = redis_server.client()
    keys = driver.keys("default")
    writes = DispatchWrites(driver.server)
    if status:
        assert writes.take_status(driver.server, "st:1", "123|{}", 60_000)
    if lock:
        assert writes.take_lock(driver.server, LockTake("lk:1", "99999999999999|me", 1, 50_000))
    before = now()
    assert driver.push_dispatch(PushItem('"p"', "default", delay, 3), writes) is True
    zset = keys.delayed if delay else keys.pending
    [(member, score)] = client.zrange(zset, 0, -1, withscores=True)
    assert member == "000000000000001|3|0||\"p\""
    if delay:
        assert before + delay <= score <= now() + delay and client.llen(keys.notify) == 0
    else:
        assert score == -3 and client.llen(keys.notify) == 1
    assert (client.get("st:1") == "123|{}" and 0 < client.pttl("st:1") <= 60_000) is status
    assert (client.get("lk:1") == "99999999999999|me" and 0 < client.pttl("lk:1") <= 50_000) is lock


def test_dispatch_without_server_ttls_and_a_refused_lock(driver: RedisQueue, redis_server: RedisServer):
    client = redis_server.client()
    writes = DispatchWrites(driver.server)
    writes.take_status(driver.server, "st:2", "|{}", "")
    writes.take_lock(driver.server, LockTake("lk:2", "99999999999999|me", 1, 0))
    assert driver.push_dispatch(PushItem('"p"', "default", 0, 0), writes) is True
    assert client.pttl("st:2") == -1 and client.pttl("lk:2") == -1  # no PX: kept until deleted
    assert client.zscore(driver.keys("default").pending, "000000000000001|0|0||\"p\"") == 0
    again = DispatchWrites(driver.server)
    again.take_status(driver.server, "st:3", "|{}", "")
    again.take_lock(driver.server, LockTake("lk:2", "99999999999999|you", 1, 0))
    assert driver.push_dispatch(PushItem('"q"', "default", 0, 0), again) is False  # a live owner: nothing written
    assert client.exists("st:3") == 0 and client.get("lk:2") == "99999999999999|me"
    assert client.zcard(driver.keys("default").pending) == 1 and client.llen(driver.keys("default").notify) == 1


def _lua_number(text: str) -> str:
    """How Lua 5.1 prints tonumber(text) ("%.14g"), as the long way rebuilt the priority."""
    return f"{float(text):.14g}"


# (stored priority text, what the long way writes back)
PRIORITIES = [("7", "7"), ("-12", "-12"), ("0", "0"), ("-0", "-0"), ("007", "7"), ("+5", "5"), ("1.5", "1.5"),
              ("12345678901234", "12345678901234"), ("123456789012345", _lua_number("123456789012345")),
              ("-12345678901234", "-12345678901234"), ("1e3", "1000")]


@pytest.mark.parametrize("prio,expected", PRIORITIES)
def test_a_claim_keeps_the_member_as_the_long_way_rebuilt_it(driver: RedisQueue, redis_server: RedisServer,
                                                            prio: str, expected: str):
    client = redis_server.client()
    keys = driver.keys("default")
    client.zadd(keys.pending, {f"000000000000009|{prio}|004|old|a|b": 0})
    job = driver.pop("default", WORKER)
    assert job is not None and job.record == f"000000000000009|{expected}|5|{WORKER}|a|b"
    assert client.zrange(keys.reserved, 0, -1) == [job.record]
    assert job.payload == "a|b" and job.attempts == 5


@pytest.mark.parametrize("prio,expected", PRIORITIES)
def test_a_batch_claim_keeps_the_member_as_the_long_way_rebuilt_it(driver: RedisQueue, redis_server: RedisServer,
                                                                  prio: str, expected: str):
    client = redis_server.client()
    client.zadd(driver.keys("default").pending, {f"000000000000009|{prio}|004|old|a|b": 0})
    [job] = driver.pop_many(["default"], WORKER, 10)
    assert job.record == f"000000000000009|{expected}|4|{WORKER}|a|b"  # batch claims leave attempts to BEGIN


@pytest.mark.parametrize("member", ["junk", "1|nan|0||p", "1|inf|0||p", "1|2|x||p", "1|2|1234567890||p", "1|2|3|p"])
def test_a_member_without_the_framing_is_framed_afresh(driver: RedisQueue, redis_server: RedisServer, member: str):
    client = redis_server.client()
    client.zadd(driver.keys("default").pending, {member: 0})
    job = driver.pop("default", WORKER)
    assert job is not None and job.payload == member and job.attempts == 1
    assert job.record.endswith(f"|0|1|{WORKER}|{member}") and len(job.record.split("|", 1)[0]) == 15


def test_delete_and_pop_rewrites_the_next_member_and_still_refuses_a_lost_one(driver: RedisQueue,
                                                                              redis_server: RedisServer):
    client = redis_server.client()
    keys = driver.keys("default")
    driver.push(_signed(1), "default", priority=2)
    driver.push(_signed(2), "default", priority=2)
    first = driver.pop("default", WORKER)
    assert first is not None
    client.zrem(keys.reserved, first.record)  # its lease ran out and another worker took it since
    first.completed(now() + 60)
    second = first.delete_and_pop(["default"], WORKER)
    assert second is not None and second.record == f"000000000000002|2|1|{WORKER}|{_signed(2)}"
    assert client.zrange(keys.reserved, 0, -1) == [second.record]


def test_acks_refresh_the_done_set_only_when_a_marker_would_outlive_it(driver: RedisQueue,
                                                                       redis_server: RedisServer):
    client = redis_server.client()
    keys = driver.keys("default")
    with freeze_time("2030-01-01 00:00:00") as clock:
        for n in range(1, 7):
            driver.push(_signed(n), "default")
        t0 = now()
        job = driver.pop("default", WORKER)
        job.completed(t0 + 100)
        job = job.delete_and_pop(["default"], WORKER)  # the first marker: a refresh
        assert 100 + DONE_REFRESH <= client.ttl(keys.done) <= 100 + DONE_REFRESH + 2
        client.expire(keys.done, 5000)  # so a refresh shows
        job.completed(t0 + 100 + DONE_REFRESH)  # still covered: only the marker is added
        job = job.delete_and_pop(["default"], WORKER)
        assert client.zcard(keys.done) == 2 and client.ttl(keys.done) > 4000
        clock.tick(50)
        job.completed(now() + 100)  # lives past what the set was made to outlive: refresh
        job = job.delete_and_pop(["default"], WORKER)
        assert 100 + DONE_REFRESH <= client.ttl(keys.done) <= 100 + DONE_REFRESH + 2
        clock.tick(200)  # every marker so far has expired; the next refresh drops them
        job.completed(now() + 100)
        assert job.delete() is True
        assert client.zcard(keys.done) == 1 and client.zscore(keys.done, f"{4:02x}" * 32) == now() + 100


def test_a_forked_child_dispatches_on_a_connection_of_its_own(driver: RedisQueue, redis_server: RedisServer):
    """The held connection notices a fork without asking the pid on every command."""
    import os

    driver.push('"parent-1"', "default")
    parent_conn = driver.held._conn
    assert parent_conn is not None
    pid = os.fork()
    if pid == 0:  # the child: its first command must not use (or close) the parent's socket
        code = 1
        try:
            driver.push('"child"', "default")
            code = 0 if driver.held._conn is not parent_conn else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    driver.push('"parent-2"', "default")
    assert driver.held._conn is parent_conn
    members = redis_server.client().zrange(driver.keys("default").pending, 0, -1)
    assert sorted(m.split("|", 4)[4] for m in members) == ['"child"', '"parent-1"', '"parent-2"']


def test_an_ack_that_failed_leaves_the_next_ack_to_refresh(driver: RedisQueue, redis_server: RedisServer,
                                                          monkeypatch: pytest.MonkeyPatch):
    """A failed command may have carried the refresh: the driver forgets it and the next ack asks again."""
    import redis

    client = redis_server.client()
    keys = driver.keys("default")
    for n in range(1, 4):
        driver.push(_signed(n), "default")
    job = driver.pop("default", WORKER)
    job.completed(now() + 100)
    real = driver.held.evalsha
    calls = []

    def down(script, command):  # type: ignore[no-untyped-def]
        calls.append(command)
        raise redis.ConnectionError("gone")

    monkeypatch.setattr(driver.held, "evalsha", down)
    with pytest.raises(ConnectionUnavailableError):
        job.delete_and_pop(["default"], WORKER)
    assert calls and calls[0][-1] == DONE_REFRESH  # that ack carried the refresh
    monkeypatch.setattr(driver.held, "evalsha", real)
    job.completed(now() + 100)
    assert job.delete_and_pop(["default"], WORKER) is not None
    assert 100 <= client.ttl(keys.done) <= 100 + DONE_REFRESH + 2
