"""QuietLane (batch-mode acks): writes without replies into a corked socket still reach Redis when
the process is SIGKILLed right after them -- whether or not a request's reply is on its way."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from app.Queue.Drivers.RedisConnection import QuietLane, make_client
from tests.servers_redis import RedisServer

CHILD = textwrap.dedent("""
    import os, signal, sys, time
    from app.Queue.Drivers.RedisConnection import QuietLane, make_client
    lane = QuietLane(make_client({{"host": "127.0.0.1", "port": {port}}}))
    lane.execute("PING")                       # connected, replies on
    if {with_request}:
        lane.request("DEBUG", "SLEEP", "0.2", on_reply=lambda r: None)  # a reply due while we send
    for i in range(50):
        lane.send("SET", f"{prefix}:{{i}}", "v")
    time.sleep(0.05)                           # the reply (if any) arrives unread; sends may still be corked
    os.kill(os.getpid(), signal.SIGKILL)
""")


@pytest.mark.parametrize("with_request", [False, True], ids=["corked", "reply-due"])
def test_sends_reach_redis_when_the_process_is_killed_right_after(redis_server: RedisServer, with_request: bool):
    prefix = f"quiet-{with_request}"
    child = subprocess.run([sys.executable, "-c", CHILD.format(port=redis_server.port, with_request=with_request,
                                                               prefix=prefix)], timeout=30)
    assert child.returncode == -9
    client = redis_server.client()
    keys = [f"{prefix}:{i}" for i in range(50)]
    for _ in range(100):  # the server applies what the dead client sent as it reads the closed socket
        if client.exists(*keys) == 50:
            break
        time.sleep(0.01)
    assert client.exists(*keys) == 50


def test_execute_reads_its_own_reply_between_quiet_sends(redis_server: RedisServer):
    lane = QuietLane(make_client({"host": "127.0.0.1", "port": redis_server.port}))
    try:
        lane.send("SET", "quiet:a", "1")
        assert lane.execute("GET", "quiet:a") == "1"
        lane.send("INCR", "quiet:a")
        got: list[str] = []
        lane.request("GET", "quiet:a", on_reply=got.append)
        lane.send("INCR", "quiet:a")
        lane.sync()
        assert got == ["2"]
        assert lane.execute("GET", "quiet:a") == "3"
    finally:
        lane.close()


def test_send_all_after_quiet_sends_gets_its_replies(redis_server: RedisServer):
    """A job running in a --prefetch worker may dispatch a bulk on the same lane: replies come back on."""
    lane = QuietLane(make_client({"host": "127.0.0.1", "port": redis_server.port}))
    try:
        lane.send("SET", "quiet:b", "1")  # replies off, corked
        assert lane.send_all([("INCR", "quiet:b"), ("INCR", "quiet:b")]) == [2, 3]
        lane.send("INCR", "quiet:b")
        assert lane.execute("GET", "quiet:b") == "4"
    finally:
        lane.close()


def test_a_fast_lane_idle_past_its_health_check_keeps_its_owed_replies_in_step(redis_server: RedisServer,
                                                                              caplog: pytest.LogCaptureFixture):
    """Pipelined writes, an idle spell longer than health_check_interval, then more writes: the health
    check's PING must not read an owed reply (that reconnected, and the lane then waited socket_timeout
    for replies lost with the old connection: the dispatcher's stall after an idle period)."""
    import redis

    from app.Queue.Drivers.RedisConnection import FastLane

    client = redis.Redis(host="127.0.0.1", port=redis_server.port, decode_responses=True,
                         health_check_interval=1, socket_timeout=5)
    lane = FastLane(client)
    try:
        lane.execute("DEL", "fast:n")
        for _ in range(3):
            lane.send("INCR", "fast:n")
        time.sleep(1.2)  # the next command is due a health check
        lane.send("INCR", "fast:n")
        with caplog.at_level("WARNING", logger="queue.redis"):
            assert lane.execute("GET", "fast:n") == "4"
        assert [r.getMessage() for r in caplog.records if "may be lost" in r.getMessage()] == []
    finally:
        lane.close()
        client.close()
