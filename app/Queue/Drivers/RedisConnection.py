"""Build redis-py clients from a connection's config and turn their errors into one clear line."""
from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections import deque
from typing import Any, Callable, Iterator, Mapping, Sequence

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


@contextlib.contextmanager
def translate_errors(config: Mapping[str, Any]) -> Iterator[None]:
    """Re-raise connection and authentication failures as one-line QueueErrors naming host:port."""
    try:
        yield
    except redis.AuthenticationError as exc:
        raise ConfigurationError(f"Redis at {where(config)} refused the credentials ({_reason(exc)}); check REDIS_PASSWORD") from exc
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise ConnectionUnavailableError(
            f"cannot connect to Redis at {where(config)}: {_reason(exc)}; "
            "check REDIS_HOST/REDIS_PORT and that redis-server is running"
        ) from exc


MAX_UNREAD = 256  # replies a lane lets wait in the socket before it reads them


class FastLane:
    """Send commands on one connection kept for the thread that made it (the worker's hot path).

    redis-py's per-command path (pool checkout with a socket poll, retry wrapper, observability
    hooks) costs about as much Python time as a no-op job; a held connection skips it. Other
    threads, and any connection error, go through the full client, whose retries ride out a restart.
    `send` writes without waiting: its reply is read before the lane's next command, so this
    thread still sees its own writes in order while the round trip overlaps other work.
    """

    def __init__(self, client: redis.Redis, preload: Sequence[Any] = ()) -> None:
        self.client = client
        self._preload = tuple(preload)  # scripts `send` may run by sha: loaded on every new connection
        self._owner = threading.get_ident()
        self._pid = os.getpid()
        self._conn: Any = None
        self._unread: deque[Callable[[Any], None] | None] = deque()  # one entry per reply not read yet

    def execute(self, *args: Any) -> Any:
        """Run one command and return its reply."""
        conn = self._connection()
        if conn is None:
            return self.client.execute_command(*args)  # type: ignore[no-untyped-call]
        try:
            _send(conn, args)
            return conn.read_response()
        except (redis.ConnectionError, redis.TimeoutError):
            self._drop()
            return self.client.execute_command(*args)  # type: ignore[no-untyped-call]

    def send(self, *args: Any, on_reply: Callable[[Any], None] | None = None) -> None:
        """Write a command whose reply nobody needs now (a status write, an ack); errors are logged later.

        `on_reply` gets the reply when it is read: before this lane's next `execute`, or once
        MAX_UNREAD replies are waiting. Replies are left in the socket until then, so a run of
        sends costs one write each and their replies one read together.
        """
        conn = self._connection(drain=len(self._unread) >= MAX_UNREAD)
        if conn is None:
            reply = self.client.execute_command(*args)  # type: ignore[no-untyped-call]
            if on_reply is not None:
                on_reply(reply)
            return
        try:
            _send(conn, args)
            self._unread.append(on_reply)
        except (redis.ConnectionError, redis.TimeoutError):
            self._drop()
            reply = self.client.execute_command(*args)  # type: ignore[no-untyped-call]
            if on_reply is not None:
                on_reply(reply)

    def sync(self) -> None:
        """Wait until every command sent on this lane has been applied."""
        self._connection()

    def script(self, script: Any, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run a registered script by its sha, loading it on first use."""
        try:
            return self.execute("EVALSHA", script.sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            return script(keys=keys, args=args)

    def _connection(self, drain: bool = True) -> Any:
        """The held connection (with no reply outstanding unless `drain` is False), or None on another thread."""
        if threading.get_ident() != self._owner:
            return None
        conn, pid = self._conn, os.getpid()
        if conn is None or pid != self._pid:  # after a fork the parent's socket is not ours to use or close
            self._pid = pid
            self._unread.clear()
            conn = self._conn = self.client.connection_pool.get_connection()
            for script in self._preload:
                conn.send_command("SCRIPT", "LOAD", script.script)
                conn.read_response()
        unread = self._unread
        while unread and drain:
            on_reply = unread.popleft()
            try:
                reply = conn.read_response()
            except redis.ResponseError as exc:
                log.warning("a pipelined Redis write failed: %s", exc)
                continue
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                log.warning("a pipelined Redis write may be lost (%s)", exc)
                self._drop()
                return self._connection()
            if on_reply is not None:
                on_reply(reply)
        return conn

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
        if self._unread:
            log.warning("%d pipelined Redis writes were not confirmed; a job whose ack was among them runs again",
                        len(self._unread))
        self._unread.clear()
        if conn is not None:
            conn.disconnect()
            self.client.connection_pool.release(conn)


def _send(conn: Any, args: tuple[Any, ...]) -> None:
    if _pack is not None:
        conn.send_packed_command([_pack(args)])
    else:
        conn.send_command(*args)
