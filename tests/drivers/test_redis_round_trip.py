"""HeldConnection.round_trip (the dispatcher's command straight on the socket and hiredis reader)
answers and fails exactly as redis-py's send_packed_command + read_response, on RESP2 and RESP3."""
from __future__ import annotations

import contextlib
import time
from typing import Any, Iterator

import hiredis
import pytest
import redis

from app.Queue.Redis.HeldConnection import NoReplyConnection, packed_head, round_trip
from tests.servers_redis import RedisServer

COMMANDS = [
    ("PING",),
    ("SET", "rt:s", "text"),
    ("GET", "rt:s"),
    ("GET", "rt:missing"),
    ("INCRBY", "rt:n", 5),
    ("RPUSH", "rt:l", "a", "b", "c"),
    ("LRANGE", "rt:l", 0, -1),
    ("HSET", "rt:h", "f", "v", "g", "w"),
    ("HGETALL", "rt:h"),
    ("EVAL", "return {1, 'two', {3, false}, redis.status_reply('OK')}", 0),
    ("SET", "rt:big", "x" * 200_000),  # a reply read in several recv_into calls follows
    ("GET", "rt:big"),
]


def _client(server: RedisServer, protocol: int, **options) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=server.port, db=3, protocol=protocol, **options)


@contextlib.contextmanager
def _pooled(server: RedisServer, protocol: int, **options) -> Iterator[tuple[redis.Redis, Any]]:
    """A client and one connection taken from its pool, given back and closed afterwards."""
    client = _client(server, protocol, **options)
    conn = client.connection_pool.get_connection()
    try:
        yield client, conn
    finally:
        client.connection_pool.release(conn)
        client.close()


@pytest.mark.parametrize("protocol", [2, 3])
def test_every_kind_of_reply_is_what_redis_py_reads(redis_server: RedisServer, protocol: int):
    with _pooled(redis_server, protocol) as (client, conn):
        client.flushdb()
        for args in COMMANDS:
            ours = round_trip(conn, hiredis.pack_command(args))
            conn.send_packed_command([hiredis.pack_command(args)], check_health=False)
            theirs = conn.read_response()
            if args[0] in ("INCRBY", "RPUSH", "HSET", "SET") and args[1] != "rt:big":
                continue  # they changed the data: each answered for its own call
            assert ours == theirs, args
        assert round_trip(conn, hiredis.pack_command(("INCRBY", "rt:n", 1))) == 11


@pytest.mark.parametrize("protocol", [2, 3])
def test_an_error_reply_raises_its_redis_py_class_and_keeps_the_connection_in_step(redis_server: RedisServer, protocol: int):
    with _pooled(redis_server, protocol) as (client, conn):
        with pytest.raises(redis.exceptions.NoScriptError):
            round_trip(conn, hiredis.pack_command(("EVALSHA", "0" * 40, 0)))
        client.set("rt:text", "a")
        with pytest.raises(redis.ResponseError, match="not an integer"):
            round_trip(conn, hiredis.pack_command(("INCR", "rt:text")))
        assert conn._sock is not None
        assert round_trip(conn, hiredis.pack_command(("ECHO", "next"))) == b"next"


def test_a_connection_the_server_closes_raises_connection_error_and_is_disconnected(redis_server: RedisServer):
    with _pooled(redis_server, 2) as (client, conn):
        conn.send_command("CLIENT", "SETNAME", "rt-victim")
        conn.read_response()
        killer = redis_server.client()
        victim = [c for c in killer.client_list() if c.get("name") == "rt-victim"]
        killer.client_kill_filter(_id=victim[0]["id"])
        with pytest.raises(redis.ConnectionError):
            round_trip(conn, hiredis.pack_command(("PING",)))
        assert conn._sock is None


def test_a_reply_later_than_socket_timeout_raises_timeout_error_and_disconnects(redis_server: RedisServer):
    with _pooled(redis_server, 2, socket_timeout=0.2) as (client, conn):
        started = time.monotonic()
        with pytest.raises(redis.TimeoutError):
            round_trip(conn, hiredis.pack_command(("BLPOP", "rt:empty", 2)))
        assert time.monotonic() - started < 1.5
        assert conn._sock is None


def test_a_resp3_push_ahead_of_the_reply_goes_to_redis_py_and_the_reply_is_returned(redis_server: RedisServer):
    with _pooled(redis_server, 3) as (client, conn):
        seen: list = []
        conn._parser.set_invalidation_push_handler(seen.append)
        client.set("rt:tracked", "1")
        assert round_trip(conn, hiredis.pack_command(("CLIENT", "TRACKING", "ON"))) == b"OK"
        assert round_trip(conn, hiredis.pack_command(("GET", "rt:tracked"))) == b"1"
        redis_server.client().set("rt:tracked", "2")  # the server pushes an invalidation to `conn`
        time.sleep(0.05)
        assert round_trip(conn, hiredis.pack_command(("ECHO", "after"))) == b"after"
        assert seen and seen[0][0] == b"invalidate"


@pytest.mark.parametrize("with_head", [False, True], ids=["whole", "packed-head"])
def test_no_reply_connection_evalsha_reloads_a_flushed_script_and_outlives_a_killed_connection(redis_server: RedisServer,
                                                                                              with_head: bool):
    client = _client(redis_server, 3)
    script = client.register_script("return tonumber(ARGV[1]) + #KEYS")
    held = NoReplyConnection(client)
    head = packed_head(("EVALSHA", script.sha, 1, "rt:k")) if with_head else None

    def call(n: int):
        return held.evalsha(script, ("EVALSHA", script.sha, 1, "rt:k", n), head)

    try:
        assert call(41) == 42
        client.script_flush()
        assert call(1) == 2  # NOSCRIPT: sent by its source
        held.execute("CLIENT", "SETNAME", "rt-held")
        killer = redis_server.client()
        killer.client_kill_filter(_id=[c for c in killer.client_list() if c.get("name") == "rt-held"][0]["id"])
        assert call(2) == 3  # dropped, then the full client's path
        assert held.execute("ECHO", "held") == b"held"  # and a new held connection afterwards
        client.script_flush()
        held.execute("CLIENT", "SETNAME", "rt-held2")
        killer.client_kill_filter(_id=[c for c in killer.client_list() if c.get("name") == "rt-held2"][0]["id"])
        assert call(3) == 4  # killed and flushed: the full client's path, then the script's source
    finally:
        held.close()
        client.close()
