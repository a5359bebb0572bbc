"""Held Redis connections for one thread's hot path: `HeldConnection` (replies pipelined) and
`NoReplyConnection` (CLIENT REPLY OFF, corked writes) -- the Redis side of the database's HeldConnection."""
from __future__ import annotations

import logging
import os
import select
import socket
import threading
import time
from collections import deque
from typing import Any, Callable, Iterable, NamedTuple, Sequence

import redis

try:
    from hiredis import pack_command as _pack
except ImportError:  # pure-Python redis-py still works, a little slower
    _pack = None  # type: ignore[assignment]

from app.Queue.Redis import clients

try:  # what redis-py's hiredis reader answers while a reply is incomplete (round_trip reads it directly)
    from redis._parsers.hiredis import NOT_ENOUGH_DATA as _NOT_ENOUGH_DATA
except ImportError:  # another redis-py layout: round_trip goes through redis-py's own read
    _NOT_ENOUGH_DATA = None

try:  # hiredis's type for RESP3 push messages (hiredis >= 3.2)
    from hiredis import PushNotification as _PUSH
except ImportError:
    _PUSH = None
_ERROR_REPLIES = (redis.ResponseError, redis.ConnectionError)

log = logging.getLogger("queue.redis")

MAX_UNREAD = 256  # replies a held connection lets wait in the socket before it reads them

# Bumped in a forked child: a held connection made before the fork is the parent's. Read on every
# command instead of os.getpid(), which is a system call (~0.2 us here) on current glibc.
_forks = 0


def _count_fork() -> None:
    global _forks
    _forks += 1


os.register_at_fork(after_in_child=_count_fork)


class HeldConnection:
    """Send commands on one connection kept for the thread that made it (the worker's hot path).

    redis-py's per-command path (pool checkout with a socket poll, retry wrapper, observability
    hooks) costs about as much Python time as a no-op job; a held connection skips it. Other
    threads, and any connection error, go through the full client, whose retries ride out a restart.
    `send` writes without waiting: its reply is read before this connection's next command, so this
    thread still sees its own writes in order while the round trip overlaps other work.
    """

    def __init__(self, client: redis.Redis, preload: Sequence[Any] = ()) -> None:
        self.client = client
        self._preload = tuple(preload)  # scripts sent by sha without a reply: loaded on every new connection
        self._by_sha = {script.sha: script for script in self._preload}
        # A cluster client has no single connection to hold: every command takes the plain path,
        # which follows MOVED/ASK and failovers (and waits for each reply).
        self._owner = -1 if clients.is_cluster(client) else threading.get_ident()
        self._forks = _forks
        self._conn: Any = None
        self._unread = 0

    def execute(self, *args: Any) -> Any:
        """Run one command and return its reply."""
        conn = self._connection()
        if conn is None:
            return self._plain(*args)
        try:
            _send(conn, args)
            return conn.read_response()
        except (redis.ConnectionError, redis.TimeoutError):
            self._drop()
            return self._plain(*args)

    def send(self, *args: Any) -> None:
        """Write a command whose reply nobody needs now (a status write); errors are logged later.

        Owed replies are read first when there are many, or when redis-py's idle health check
        (health_check_interval) is due: its PING would otherwise read an owed reply instead of
        PONG, reconnect, and leave it waiting socket_timeout for replies that were lost
        with the old connection -- a stall of seconds on the first dispatch after an idle spell.
        """
        conn = self._connection(drain=self._unread >= MAX_UNREAD or (self._unread > 0 and self._health_check_due()))
        if conn is None:
            self._plain(*args)
            return
        try:
            _send(conn, args)
            self._unread += 1
        except (redis.ConnectionError, redis.TimeoutError):
            self._drop()
            self._plain(*args)

    def send_script(self, script: Any, keys: Sequence[str], args: Sequence[Any]) -> None:
        """Run a script without waiting for its reply, like `send`.

        EVAL with the source rather than EVALSHA: nobody reads the reply in time to load a
        script the server lost (restart, SCRIPT FLUSH), and the server caches it by sha anyway.
        """
        self.send("EVAL", script.script, len(keys), *keys, *args)

    def send_all(self, commands: Iterable[Sequence[Any]]) -> list[Any]:
        """Send each command as soon as `commands` yields it, then read every reply; raise the first error.

        A generator may build its next command while Redis runs the ones already sent. Nothing
        is retried: a command whose reply was lost may have run, and running it twice is worse.
        """
        conn = self._connection()
        if conn is None:
            pipe = self.client.pipeline(transaction=False)
            for args in commands:
                pipe.execute_command(*args)
            return pipe.execute()
        self._before_replies(conn)
        sent = 0
        try:
            for args in commands:
                _send(conn, tuple(args))
                sent += 1
        except (redis.ConnectionError, redis.TimeoutError):
            self._drop()
            raise
        except BaseException:
            self._owe(sent)  # the caller's generator failed: those replies are read before the next command
            raise
        return self._read_replies(conn, sent)

    def _health_check_due(self) -> bool:
        """Whether the held connection's next command would first PING (redis-py's idle health check)."""
        conn = self._conn
        interval = getattr(conn, "health_check_interval", 0)
        return bool(interval) and time.monotonic() > getattr(conn, "next_health_check", 0)

    def _plain(self, *args: Any) -> Any:
        """Run a command through the full client (retries, cluster routing); a preloaded script
        the server lost (restart, failover to a new master) is sent by its source instead."""
        try:
            return self.client.execute_command(*args)  # type: ignore[no-untyped-call]
        except redis.exceptions.NoScriptError:
            script = self._by_sha.get(args[1]) if args and args[0] == "EVALSHA" else None
            if script is None:
                raise
            return self.client.execute_command("EVAL", script.script, *args[2:])  # type: ignore[no-untyped-call]

    def _before_replies(self, conn: Any) -> None:
        """Make sure the commands about to be sent get replies (NoReplyConnection switches them back on)."""

    def _owe(self, count: int) -> None:
        self._unread += count

    def _read_replies(self, conn: Any, count: int) -> list[Any]:
        replies: list[Any] = []
        error: redis.ResponseError | None = None
        try:
            for _ in range(count):
                try:
                    replies.append(conn.read_response())
                except redis.ResponseError as exc:  # read the rest: the connection stays in step
                    error = error or exc
                    replies.append(exc)
        except (redis.ConnectionError, redis.TimeoutError):
            self._drop()
            raise
        if error is not None:
            raise error
        return replies

    def sync(self) -> None:
        """Wait until every command sent on this connection has been applied."""
        self._connection()

    def script(self, script: Any, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run a registered script by its sha, loading it on first use."""
        try:
            return self.execute("EVALSHA", script.sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            return script(keys=keys, args=args)

    def evalsha(self, script: Any, command: tuple[Any, ...], head: PackedHead | None = None) -> Any:
        """Run `command`, an EVALSHA of registered `script` that a hot path built whole (its head kept per
        queue); a script the server lost is sent by its source, which loads it again. `head` (see
        `packed_head`): the command's first arguments as packed once by the caller, where the
        connection can send them so (NoReplyConnection)."""
        try:
            return self._execute_script(command, head)
        except redis.exceptions.NoScriptError:
            return self.execute("EVAL", script.script, *command[2:])

    def _execute_script(self, command: tuple[Any, ...], head: PackedHead | None) -> Any:
        """`execute(*command)` for `evalsha`."""
        return self.execute(*command)

    def _connection(self, drain: bool = True) -> Any:
        """The held connection (after reading the replies owed, when `drain`), or None on another thread."""
        if threading.get_ident() != self._owner:
            return None
        conn = self._conn
        if conn is None or self._forks != _forks:  # after a fork the parent's socket is not ours to use or close
            self._forks = _forks
            self._forget_state()
            conn = self._conn = self.client.connection_pool.get_connection()
            self._on_connect(conn)
        return self._drain(conn) if drain else conn

    def _drain(self, conn: Any) -> Any:
        """Read the replies of earlier sends; returns the connection to go on with."""
        while self._unread:
            self._unread -= 1
            try:
                conn.read_response()
            except redis.ResponseError as exc:
                log.warning("a pipelined Redis write failed: %s", exc)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                log.warning("a pipelined Redis write may be lost (%s)", exc)
                self._drop()
                return self._connection()
        return conn

    def _forget_state(self) -> None:
        """Reset what belonged to the connection being replaced or dropped."""
        self._unread = 0

    def _on_connect(self, conn: Any) -> None:
        for script in self._preload:
            conn.send_command("SCRIPT", "LOAD", script.script)
            conn.read_response()

    def close(self) -> None:
        """Read the replies still owed (logging failures), then give the connection back."""
        if self._conn is not None and threading.get_ident() == self._owner:
            try:
                self.sync()
            except Exception:  # noqa: BLE001 - closing must not raise
                pass
        self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self._forget_state()
        if conn is not None:
            conn.disconnect()
            self.client.connection_pool.release(conn)


class NoReplyConnection(HeldConnection):
    """A HeldConnection whose `send`s get no reply (CLIENT REPLY OFF) and go into a corked socket.

    Made for acks that must survive a SIGKILL without costing a round trip each. A corked
    write (Linux TCP_CORK) is in the kernel when `send` returns; the kernel sends it with the
    next command, a full segment, or within 200 ms, instead of waking Redis for every small
    write (~20 us each on a VM). When the process dies, closing the socket sends what is
    corked -- but only if no reply sits unread in it (Linux then resets the connection and
    drops unsent data). So replies come only for `execute` and `request`, nothing is corked
    while one may be on its way, and one that never `send`s works like a HeldConnection.
    """

    _REPLY_ON = ("CLIENT", "REPLY", "ON")
    _REPLY_OFF = ("CLIENT", "REPLY", "OFF")

    def __init__(self, client: redis.Redis, preload: Sequence[Any] = ()) -> None:
        super().__init__(client, preload)
        self._cork = hasattr(socket, "TCP_CORK")
        self._corked = False
        self._replies_off = False
        self._poller: Any = None  # select.poll on the held socket, made on first use
        # Per request not read yet: its callback, how many OKs (of CLIENT REPLY ON) come first, and
        # who takes an error reply instead of the log (None: logged).
        self._waiting: deque[tuple[Callable[[Any], None], int, Callable[[Exception], None] | None]] = deque()

    def execute(self, *args: Any) -> Any:
        """Run one command and return its reply."""
        conn = self._connection(drain=bool(self._waiting))  # (_drain reads only the requests owed)
        if conn is None:
            return self._plain(*args)
        try:
            if self._replies_off or self._corked or _pack is None:
                for _ in range(self._write(conn, args, reply=True)):
                    conn.read_response()  # OK of CLIENT REPLY ON
                return conn.read_response()
            # replies on and nothing corked (a dispatcher's every call): the command alone, one round trip
            return round_trip(conn, _pack_exact(args))
        except (redis.ConnectionError, redis.TimeoutError):
            self._drop()
            return self._plain(*args)

    def _execute_script(self, command: tuple[Any, ...], head: PackedHead | None) -> Any:
        """`execute(*command)`; with `head`, the command's first arguments are sent as packed once by the
        caller and only the rest is packed now (hiredis spells each argument's length with sprintf:
        ~600 instructions apiece)."""
        if head is None:
            return self.execute(*command)
        conn = self._connection(drain=bool(self._waiting))
        if conn is None or self._replies_off or self._corked:
            return self.execute(*command)
        try:
            return round_trip(conn, pack_after_head(head, command))
        except (redis.ConnectionError, redis.TimeoutError):
            self._drop()
            return self._plain(*command)

    def send(self, *args: Any) -> None:
        """Write a command that gets no reply (nor reports an error); corked when no reply is due.

        While a request's reply is due, sends go out at once (uncorked); each one first looks
        (one poll) whether that reply has come, and reads it, so corking resumes soon.
        """
        conn = self._connection(drain=bool(self._waiting) and self._reply_arrived())
        if conn is None:
            self._plain(*args)
            return
        try:
            self._write(conn, args, reply=False)
        except (redis.ConnectionError, redis.TimeoutError):
            self._drop()
            self._plain(*args)

    def send_many(self, commands: Sequence[tuple[Any, ...]]) -> None:
        """Write several commands that get no reply in one write (one system call, one release of the GIL)."""
        if len(commands) == 1:
            self.send(*commands[0])
            return
        conn = self._connection(drain=bool(self._waiting) and self._reply_arrived())
        if conn is None or _pack is None:
            for args in commands:
                self.send(*args)
            return
        try:
            self._write_many(conn, commands)
        except (redis.ConnectionError, redis.TimeoutError):
            self._drop()
            for args in commands:
                self._plain(*args)

    def _write_many(self, conn: Any, commands: Sequence[tuple[Any, ...]]) -> None:
        parts = [_pack_exact(args) for args in commands]
        if not self._replies_off:
            parts.insert(0, _pack_exact(self._REPLY_OFF))
            self._replies_off = True
        if self._cork and not self._corked and not self._waiting:
            self._set_cork(conn, True)
        conn.send_packed_command([b"".join(parts)], check_health=False)
        if self._corked and self._waiting:
            self._set_cork(conn, False)

    def request(self, *args: Any, on_reply: Callable[[Any], None], on_error: Callable[[Exception], None] | None = None) -> None:
        """Send a command now and read its reply later (`sync` or the next `execute`), into `on_reply`;
        an error reply goes to `on_error` when given, else to the log. A reply lost with the connection
        reaches neither (`sync` raises the connection error)."""
        conn = self._connection(drain=False)
        if conn is None:
            on_reply(self._plain(*args))
            return
        try:
            if self._replies_off or self._corked or _pack is None:
                oks = self._write(conn, args, reply=True)
            else:  # replies on and nothing corked (the single worker's ack+claim): the command alone
                write_packed(conn, _pack_exact(args))
                oks = 0
            self._waiting.append((on_reply, oks, on_error))
        except (redis.ConnectionError, redis.TimeoutError):
            self._drop()
            on_reply(self._plain(*args))

    def _before_replies(self, conn: Any) -> None:
        if self._replies_off:
            conn.send_packed_command([_pack(self._REPLY_ON)] if _pack is not None else conn.pack_commands([self._REPLY_ON]),
                                     check_health=False)
            self._replies_off = False
            if self._corked:
                self._set_cork(conn, False)
            conn.read_response()  # OK
        elif self._corked:
            self._set_cork(conn, False)

    def _owe(self, count: int) -> None:
        conn = self._conn
        try:
            self._read_replies(conn, count)
        except redis.ResponseError:
            pass  # the caller's own error is the one that matters; the connection is back in step

    def _write(self, conn: Any, args: tuple[Any, ...], reply: bool) -> int:
        """Write `args`, switching replies on or off first as needed; returns the OKs that precede its reply."""
        if not reply and self._replies_off and _pack is not None:  # a batch's BEGIN or ack: the command alone
            if self._cork and not self._corked and not self._waiting:
                self._set_cork(conn, True)
            write_packed(conn, _pack_exact(args))
            if self._corked and self._waiting:
                self._set_cork(conn, False)
            return 0
        parts = [args]
        oks = 0
        if reply and self._replies_off:
            parts.insert(0, self._REPLY_ON)
            self._replies_off, oks = False, 1
        elif not reply and not self._replies_off:
            parts.insert(0, self._REPLY_OFF)
            self._replies_off = True
        if not reply and self._cork and not self._corked and not self._waiting:
            self._set_cork(conn, True)
        # check_health=False: a health-check PING would wait forever for a reply switched off
        # one write for both commands: each sendall is a system call that lets go of the GIL
        conn.send_packed_command([b"".join([_pack_exact(p) for p in parts])] if _pack is not None else conn.pack_commands(parts),
                                 check_health=False)
        if self._corked and (reply or self._waiting):
            self._set_cork(conn, False)  # a reply will come: nothing may stay corked meanwhile
        return oks

    def _drain(self, conn: Any) -> Any:
        """Read the replies of requests still owed, handing each to its callback."""
        waiting = self._waiting
        while waiting:
            on_reply, oks, on_error = waiting.popleft()
            try:
                for _ in range(oks):
                    conn.read_response()
                reply = read_reply(conn)
            except redis.ResponseError as exc:
                if on_error is None:
                    log.warning("a Redis request failed: %s", exc)
                else:
                    on_error(exc)
                continue
            except (redis.ConnectionError, redis.TimeoutError):
                self._drop()
                raise
            on_reply(reply)
        return conn

    def _reply_arrived(self) -> bool:
        """Whether bytes are waiting on the held connection (a poll that does not block)."""
        poller = self._poller
        if poller is None:
            sock = getattr(self._conn, "_sock", None)
            if sock is None:
                return False
            poller = self._poller = select.poll()
            poller.register(sock.fileno(), select.POLLIN)
        return bool(poller.poll(0))

    def _set_cork(self, conn: Any, on: bool) -> None:
        sock = getattr(conn, "_sock", None)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1 if on else 0)  # type: ignore[union-attr]
        except (AttributeError, OSError):  # a Unix socket: plain writes from now on
            self._cork = False
            on = False
        self._corked = on

    def _forget_state(self) -> None:
        super()._forget_state()
        self._poller = None
        self._waiting.clear()
        self._corked = self._replies_off = False  # closing the socket sends what was corked


class PackedHead(NamedTuple):
    """The first `count` arguments of a command, packed as hiredis packs them (without the array's header)."""

    count: int
    packed: bytes


def packed_head(args: tuple[Any, ...]) -> PackedHead | None:
    """Pack the leading arguments a hot path sends with every call (EVALSHA, sha, keys); None without hiredis."""
    if _pack is None:
        return None
    whole = _pack_exact(args)
    return PackedHead(len(args), whole[whole.index(b"\r\n") + 2:])


def pack_after_head(head: PackedHead, command: tuple[Any, ...]) -> bytes:
    """`command` packed, byte for byte as hiredis packs it whole, when its first `head.count` arguments are `head`'s."""
    rest = _pack_exact(command[head.count:])
    return b"*%d\r\n%b%b" % (len(command), head.packed, rest[rest.index(b"\r\n") + 2:])


def _socket_failure(conn: Any, exc: BaseException, doing: str) -> BaseException:
    """Disconnect `conn` (a partial write or read leaves it out of step, as redis-py does) and name the failure
    as redis-py would: a socket timeout as TimeoutError, another socket error as ConnectionError, else `exc` itself."""
    conn.disconnect()
    if isinstance(exc, TimeoutError):  # the socket timed out (socket.timeout)
        return redis.TimeoutError(f"Timeout {doing} socket")
    if isinstance(exc, OSError):
        return redis.ConnectionError(f"Error while {doing} socket: {exc.args}")
    return exc


def write_packed(conn: Any, packed: bytes) -> None:
    """Write one packed command on redis-py connection `conn`, as its `send_packed_command(check_health=False)` does,
    errors included (a socket error or timeout disconnects and raises redis-py's ConnectionError/TimeoutError).

    A plain socket with a timeout is non-blocking underneath, and its `sendall` polls before every send: on the
    per-job writes (a batch's BEGIN, the ack+claim) `os.write` on the descriptor is one system call instead of two,
    whatever it could not write then goes through `sendall`. A TLS socket (whose descriptor carries ciphertext),
    or none yet, takes redis-py's own path.
    """
    sock = conn._sock
    if type(sock) is not socket.socket:
        conn.send_packed_command([packed], check_health=False)
        return
    try:
        try:
            sent = os.write(sock.fileno(), packed)
        except BlockingIOError:  # the send buffer is full: sendall waits for room, up to the timeout
            sent = 0
        if sent < len(packed):
            sock.sendall(memoryview(packed)[sent:])
    except BaseException as exc:
        raise _socket_failure(conn, exc, "writing to") from None


def round_trip(conn: Any, packed: bytes) -> Any:
    """Send one packed command on redis-py connection `conn` and return its reply, as its
    `send_packed_command(check_health=False)` then `read_response()` would, errors included.

    Straight on the socket and hiredis reader: redis-py's layers (host text for errors, parser
    dispatch, push-message checks) are ~20 calls per command, a tenth of a dispatch's Python. A
    socket error or timeout disconnects and raises redis-py's ConnectionError/TimeoutError; an
    error reply raises its redis-py class (NoScriptError, ...) and leaves the connection in step.
    A push message (RESP3) ahead of the reply goes to redis-py, which then reads the reply; a
    connection without a hiredis reader takes redis-py's path throughout. The command goes out by
    `write_packed` (one system call where `sendall` makes two: each lets go of the GIL, which a slot
    thread of a concurrent worker, claiming with every job, then has to wait for again).
    """
    direct = _direct_reader(conn)
    if direct is None:
        conn.send_packed_command([packed], check_health=False)
        return conn.read_response()
    write_packed(conn, packed)
    return _read_direct(conn, *direct)


def read_reply(conn: Any) -> Any:
    """The next reply on redis-py connection `conn`, as its `read_response()` gives it, errors included,
    straight from the hiredis reader as `round_trip` reads (a reply sent ahead: the single worker's ack+claim)."""
    direct = _direct_reader(conn)
    if direct is None:
        return conn.read_response()
    return _read_direct(conn, *direct)


def _direct_reader(conn: Any) -> tuple[Any, Any, Any, Any] | None:
    """`conn`'s parser, its hiredis reader and buffer, and its socket, for reading replies directly;
    None when one is missing (no hiredis, not connected): redis-py's own path then."""
    parser = conn._parser
    reader = getattr(parser, "_reader", None)
    buffer = getattr(parser, "_buffer", None)
    sock = conn._sock
    if reader is None or buffer is None or sock is None or _NOT_ENOUGH_DATA is None:
        return None
    return parser, reader, buffer, sock


def _read_direct(conn: Any, parser: Any, reader: Any, buffer: Any, sock: Any) -> Any:
    """Read one reply for `round_trip` and `read_reply` from the parser's own hiredis reader and buffer."""
    try:
        reply = reader.gets()
        while reply is _NOT_ENOUGH_DATA:
            size = sock.recv_into(buffer)
            if not size:
                raise redis.ConnectionError("Connection closed by server.")
            reader.feed(buffer, 0, size)
            reply = reader.gets()
    except BaseException as exc:
        raise _socket_failure(conn, exc, "reading from") from None
    if conn.health_check_interval:
        conn.next_health_check = time.monotonic() + conn.health_check_interval
    if type(reply) is _PUSH:  # a RESP3 push message (invalidation, maintenance) came first: redis-py handles it
        try:
            parser.handle_push_response(reply)
        except BaseException:
            conn.disconnect()
            raise
        return conn.read_response()  # and reads the command's own reply (and any other push) its way
    if isinstance(reply, _ERROR_REPLIES):
        if isinstance(reply, redis.ConnectionError):  # (LOADING, ...) redis-py disconnects on these
            conn.disconnect()
        raise reply
    if type(reply) is list and reply and isinstance(reply[0], redis.ConnectionError):  # as redis-py's parser
        conn.disconnect()
        raise reply[0]
    return reply


def _pack_exact(args: tuple[Any, ...]) -> Any:
    """Pack a command with hiredis; a str read back with surrogateescape is sent as its original bytes."""
    try:
        return _pack(args)
    except UnicodeEncodeError:
        return _pack(tuple(a.encode("utf-8", "surrogateescape") if isinstance(a, str) else a for a in args))


def _send(conn: Any, args: tuple[Any, ...]) -> None:
    if _pack is not None:
        conn.send_packed_command([_pack_exact(args)])
    else:
        conn.send_command(*args)
