"""Build redis-py clients from a connection's config and turn their errors into one clear line."""
from __future__ import annotations

import logging
import os
import socket
import threading
from collections import deque
from typing import Any, Callable, Mapping, Sequence

import redis

try:
    from hiredis import pack_command as _pack
except ImportError:  # pure-Python redis-py still works, a little slower
    _pack = None  # type: ignore[assignment]

from app.Queue.errors import ConfigurationError, ConnectionUnavailableError

log = logging.getLogger("queue.redis")


def make_client(config: Mapping[str, Any]) -> redis.Redis:
    """Create a client (str replies, hiredis when installed) for `config` (host, port, db, password)."""
    return redis.Redis(
        host=str(config.get("host") or "127.0.0.1"),
        port=int(config.get("port") or 6379),
        db=int(config.get("db") or 0),
        password=config.get("password") or None,
        decode_responses=True,
        socket_connect_timeout=float(config.get("connect_timeout", 5)),
        socket_keepalive=True,
        health_check_interval=30,
    )


def where(config: Mapping[str, Any]) -> str:
    """Say which server a config points at."""
    return f"{config.get('host') or '127.0.0.1'}:{int(config.get('port') or 6379)}"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().rstrip(".")
    # redis-py says "Error 111 connecting to host:port. Connection refused."; keep the reason only.
    if "connecting to" in text and ". " in text:
        text = text.rsplit(". ", 1)[1]
    return text or type(exc).__name__


class translate_errors:  # noqa: N801 - used like the function-style context managers it replaced
    """Re-raise connection and authentication failures as one-line QueueErrors naming host:port.

    A class rather than a @contextmanager generator: it wraps every command of the worker's
    hot path, and a generator-based context costs several times as much to enter and leave.
    """

    __slots__ = ("config",)

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is None:
            return False
        if isinstance(exc, redis.AuthenticationError):
            raise ConfigurationError(
                f"Redis at {where(self.config)} refused the credentials ({_reason(exc)}); check REDIS_PASSWORD") from exc
        if isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
            raise ConnectionUnavailableError(
                f"cannot connect to Redis at {where(self.config)}: {_reason(exc)}; "
                "check REDIS_HOST/REDIS_PORT and that redis-server is running"
            ) from exc
        return False


MAX_UNREAD = 256  # replies a lane lets wait before it reads those already in
HARD_MAX_UNREAD = 8 * MAX_UNREAD  # ...and before it waits for all of them

# How much of the owed replies `_connection` reads first.
DRAIN_ALL, DRAIN_WANTED, DRAIN_READY, DRAIN_NONE = range(4)


class FastLane:
    """Send commands on one connection kept for the thread that made it (the worker's hot path).

    redis-py's per-command path (pool checkout with a socket poll, retry wrapper, observability
    hooks) costs about as much Python time as a no-op job; a held connection skips it. Other
    threads, and any connection error, go through the full client, whose retries ride out a restart.
    `send` writes without waiting: its reply is read before the lane's next command, so this
    thread still sees its own writes in order while the round trip overlaps other work.

    With `cork_sends`, `send` writes into a corked TCP socket (Linux TCP_CORK): the bytes are in
    the kernel when `send` returns, so they reach Redis even if this process is SIGKILLed next,
    but the kernel pushes them out with the next `execute`, a `push`, a full segment, or after
    at most 200 ms, instead of waking Redis for every small write (~20 us each on a VM).
    """

    def __init__(self, client: redis.Redis, preload: Sequence[Any] = (), cork_sends: bool = False) -> None:
        self.client = client
        self._preload = tuple(preload)  # scripts `send` may run by sha: loaded on every new connection
        self._cork = cork_sends and hasattr(socket, "TCP_CORK")
        self._corked = False
        self._owner = threading.get_ident()
        self._pid = os.getpid()
        self._conn: Any = None
        # One (callback, wanted) per reply not read yet; `wanted` replies are ones a caller waits for.
        self._unread: deque[tuple[Callable[[Any], None] | None, bool]] = deque()
        self._wanted = 0

    def execute(self, *args: Any) -> Any:
        """Run one command and return its reply."""
        conn = self._connection()
        if conn is None:
            return self.client.execute_command(*args)  # type: ignore[no-untyped-call]
        try:
            _send(conn, args)
            if self._corked:
                self._set_cork(conn, False)  # push the corked writes and this command
            return conn.read_response()
        except (redis.ConnectionError, redis.TimeoutError):
            self._drop()
            return self.client.execute_command(*args)  # type: ignore[no-untyped-call]

    def send(self, *args: Any, on_reply: Callable[[Any], None] | None = None, push: bool = False) -> None:
        """Write a command whose reply nobody needs now (a status write, an ack); errors are logged later.

        `on_reply` gets the reply when it is read: before this lane's next `execute`, or once
        MAX_UNREAD replies are waiting. Replies are left in the socket until then, so a run of
        sends costs one write each and their replies one read together. `push` sends this
        command (and any corked before it) to the server now, and `sync(wanted_only=True)`
        waits for its reply but not for those of sends after it.
        """
        owed = len(self._unread)
        conn = self._connection(DRAIN_NONE if owed < MAX_UNREAD else DRAIN_READY if owed < HARD_MAX_UNREAD else DRAIN_ALL)
        if conn is None:
            reply = self.client.execute_command(*args)  # type: ignore[no-untyped-call]
            if on_reply is not None:
                on_reply(reply)
            return
        try:
            if self._cork and not self._corked and not push:
                self._set_cork(conn, True)
            _send(conn, args)
            self._unread.append((on_reply, push))
            if push:
                self._wanted += 1
                if self._corked:
                    self._set_cork(conn, False)
        except (redis.ConnectionError, redis.TimeoutError):
            self._drop()
            reply = self.client.execute_command(*args)  # type: ignore[no-untyped-call]
            if on_reply is not None:
                on_reply(reply)

    def sync(self, wanted_only: bool = False) -> None:
        """Wait until every command sent on this lane has been applied (or only those sent with `push`)."""
        self._connection(DRAIN_WANTED if wanted_only else DRAIN_ALL)

    def script(self, script: Any, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run a registered script by its sha, loading it on first use."""
        try:
            return self.execute("EVALSHA", script.sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            return script(keys=keys, args=args)

    def _connection(self, drain: int = DRAIN_ALL) -> Any:
        """The held connection, after reading the replies `drain` asks for, or None on another thread."""
        if threading.get_ident() != self._owner:
            return None
        conn, pid = self._conn, os.getpid()
        if conn is None or pid != self._pid:  # after a fork the parent's socket is not ours to use or close
            self._pid = pid
            self._unread.clear()
            self._wanted = 0
            conn = self._conn = self.client.connection_pool.get_connection()
            for script in self._preload:
                conn.send_command("SCRIPT", "LOAD", script.script)
                conn.read_response()
        unread = self._unread
        if not unread or drain == DRAIN_NONE:
            return conn
        if drain == DRAIN_ALL and self._corked:
            self._set_cork(conn, False)  # the replies to read need their commands sent first
        try:
            while unread:
                if drain == DRAIN_WANTED and not self._wanted:
                    break
                if drain == DRAIN_READY and not conn.can_read(timeout=0):
                    break
                on_reply, wanted = unread.popleft()
                self._wanted -= wanted
                try:
                    reply = conn.read_response()
                except redis.ResponseError as exc:
                    log.warning("a pipelined Redis write failed: %s", exc)
                    continue
                if on_reply is not None:
                    on_reply(reply)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            log.warning("a pipelined Redis write may be lost (%s)", exc)
            self._drop()
            return self._connection()
        return conn

    def _set_cork(self, conn: Any, on: bool) -> None:
        sock = getattr(conn, "_sock", None)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1 if on else 0)  # type: ignore[union-attr]
        except (AttributeError, OSError):  # a Unix socket, or no socket yet: plain writes from now on
            self._cork = False
            self._corked = False
            return
        self._corked = on

    def close(self) -> None:
        """Read the replies still owed (logging failures), then give the connection back."""
        if self._unread and self._conn is not None and threading.get_ident() == self._owner:
            try:
                self._connection()
            except Exception:  # noqa: BLE001 - closing must not raise; _drop says what was lost
                pass
        self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self._corked = False  # closing the socket sends what was corked
        if self._unread:
            log.warning("%d pipelined Redis writes were not confirmed; a job whose ack was among them runs again",
                        len(self._unread))
        self._unread.clear()
        self._wanted = 0
        if conn is not None:
            conn.disconnect()
            self.client.connection_pool.release(conn)


def _send(conn: Any, args: tuple[Any, ...]) -> None:
    if _pack is not None:
        conn.send_packed_command([_pack(args)])
    else:
        conn.send_command(*args)
