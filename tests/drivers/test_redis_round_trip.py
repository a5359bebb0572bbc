"""HeldConnection.round_trip (the dispatcher's command straight on the socket and hiredis reader)
answers and fails exactly as redis-py's send_packed_command + read_response, on RESP2 and RESP3;
write_packed (a worker's per-job write) writes and fails as send_packed_command does, and read_reply
(the reply of an ack+claim sent ahead) reads and fails as read_response does."""
from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any, Iterator

import hiredis
import pytest
import redis

from app.Queue.Redis.HeldConnection import NoReplyConnection, packed_head, read_reply, round_trip, write_packed
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


@pytest.mark.parametrize("size", [10, 300_000, 6_000_000], ids=["small", "over-the-send-buffer", "many-times-the-buffer"])
def test_write_packed_sends_the_whole_command_byte_for_byte(redis_server: RedisServer, size: int):
    """os.write takes what the socket buffer holds; the rest goes through sendall (the big values):
    Redis reads the whole command, and the connection stays in step for the next one."""
    value = bytes(range(256)) * (size // 256) + b"tail"
    with _pooled(redis_server, 2, socket_timeout=10) as (client, conn):
        conn._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        write_packed(conn, hiredis.pack_command(("SET", "wp:v", value)))
        assert conn.read_response() == b"OK"
        write_packed(conn, hiredis.pack_command(("STRLEN", "wp:v")))
        assert conn.read_response() == len(value)
        assert client.get("wp:v") == value


@pytest.mark.parametrize("protocol", [2, 3])
def test_round_trip_of_a_command_many_times_the_send_buffer_sends_it_whole(redis_server: RedisServer, protocol: int):
    """round_trip writes as write_packed does (os.write, then sendall for what the buffer did not take)."""
    value = bytes(range(256)) * (3_000_000 // 256) + b"tail"
    with _pooled(redis_server, protocol, socket_timeout=10) as (client, conn):
        conn._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        assert round_trip(conn, hiredis.pack_command(("SET", "rt:whole", value))) == b"OK"
        assert round_trip(conn, hiredis.pack_command(("STRLEN", "rt:whole"))) == len(value)
        assert client.get("rt:whole") == value


def test_write_packed_to_a_closed_connection_raises_connection_error_and_disconnects(redis_server: RedisServer):
    with _pooled(redis_server, 2) as (client, conn):
        conn.send_command("CLIENT", "SETNAME", "wp-victim")
        conn.read_response()
        killer = redis_server.client()
        killer.client_kill_filter(_id=[c for c in killer.client_list() if c.get("name") == "wp-victim"][0]["id"])
        time.sleep(0.05)
        with pytest.raises(redis.ConnectionError):
            for _ in range(50):  # the first write after the close may still be accepted by the kernel
                write_packed(conn, hiredis.pack_command(("SET", "wp:k", "x" * 100_000)))
                time.sleep(0.01)
        assert conn._sock is None


def test_write_packed_to_a_peer_that_stops_reading_raises_timeout_error_and_disconnects():
    """A server that never reads: the buffers fill, sendall waits out socket_timeout."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True)
    thread.start()
    client = redis.Redis(host="127.0.0.1", port=listener.getsockname()[1], socket_timeout=0.3)
    conn = client.connection_pool.make_connection()
    try:
        conn._connect_callbacks = []
        conn._sock = socket.create_connection(("127.0.0.1", listener.getsockname()[1]), timeout=0.3)
        thread.join(5)
        started = time.monotonic()
        with pytest.raises(redis.TimeoutError):
            for _ in range(200):
                write_packed(conn, b"x" * 1_000_000)
        assert time.monotonic() - started < 5
        assert conn._sock is None
    finally:
        for sock in accepted:
            sock.close()
        listener.close()
        client.close()


def test_write_packed_leaves_a_socket_it_does_not_know_to_redis_py(redis_server: RedisServer, monkeypatch):
    """A TLS socket's descriptor carries ciphertext: any socket that is not a plain socket.socket is
    written by redis-py's send_packed_command, never by os.write."""
    class Wrapped(socket.socket):
        pass

    with _pooled(redis_server, 2) as (client, conn):
        plain = conn._sock
        wrapped = Wrapped(plain.family, plain.type, fileno=plain.detach())
        conn._sock = wrapped
        sent: list = []
        original = type(conn).send_packed_command
        monkeypatch.setattr(type(conn), "send_packed_command",
                            lambda self, command, check_health=True: (sent.append(command), original(self, command, check_health)))
        write_packed(conn, hiredis.pack_command(("ECHO", "via-redis-py")))
        assert sent == [[hiredis.pack_command(("ECHO", "via-redis-py"))]]
        wrapped.settimeout(5)
        assert wrapped.recv(100) == b"$12\r\nvia-redis-py\r\n"  # (the parser still reads the socket it was given)


@pytest.mark.parametrize("protocol", [2, 3])
def test_read_reply_reads_replies_sent_ahead_as_read_response_does(redis_server: RedisServer, protocol: int):
    """Every command sent first (several replies arrive in one recv), then read one by one: with read_reply,
    then again on an emptied database with read_response; error replies included, the connection in step."""
    commands = [*COMMANDS, ("EVALSHA", "0" * 40, 0), ("INCR", "rt:s"), ("ECHO", "after the errors")]

    def outcomes(read) -> list:
        with _pooled(redis_server, protocol) as (client, conn):
            client.flushdb()
            conn.send_packed_command([b"".join(hiredis.pack_command(c) for c in commands)], check_health=False)
            seen: list = []
            for _ in commands:
                try:
                    seen.append(("reply", read(conn)))
                except redis.ResponseError as exc:
                    seen.append((type(exc), str(exc)))
            assert conn._sock is not None
            conn.send_packed_command([hiredis.pack_command(("ECHO", "in step"))])
            assert read(conn) == b"in step"
            return seen

    ours = outcomes(read_reply)
    assert ours == outcomes(lambda conn: conn.read_response())
    assert ("reply", b"x" * 200_000) in ours and any(kind is redis.exceptions.NoScriptError for kind, _ in ours)


def test_read_reply_of_a_killed_connection_raises_connection_error_and_disconnects(redis_server: RedisServer):
    with _pooled(redis_server, 2) as (client, conn):
        conn.send_command("CLIENT", "SETNAME", "rr-victim")
        conn.read_response()
        conn.send_packed_command([hiredis.pack_command(("BLPOP", "rr:empty", 5))], check_health=False)
        killer = redis_server.client()
        killer.client_kill_filter(_id=[c for c in killer.client_list() if c.get("name") == "rr-victim"][0]["id"])
        with pytest.raises(redis.ConnectionError):
            read_reply(conn)
        assert conn._sock is None


def test_read_reply_later_than_socket_timeout_raises_timeout_error_and_disconnects(redis_server: RedisServer):
    with _pooled(redis_server, 2, socket_timeout=0.2) as (client, conn):
        conn.send_packed_command([hiredis.pack_command(("BLPOP", "rr:empty", 2))], check_health=False)
        with pytest.raises(redis.TimeoutError):
            read_reply(conn)
        assert conn._sock is None
