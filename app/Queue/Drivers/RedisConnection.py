"""Build redis-py clients from a connection's config and turn their errors into one clear line."""
from __future__ import annotations

import contextlib
import logging
import os
import threading
from typing import Any, Iterable, Iterator, Mapping, Sequence

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


class FastLane:
    """Send commands on one connection kept for the thread that made it (the worker's hot path).

    redis-py's per-command path (pool checkout with a socket poll, retry wrapper, observability
    hooks) costs about as much Python time as a no-op job; a held connection skips it. Other
    threads, and any connection error, go through the full client, whose retries ride out a restart.
    `send` writes without waiting: its reply is read before the lane's next command, so this
    thread still sees its own writes in order while the round trip overlaps other work.
    """

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._owner = threading.get_ident()
        self._pid = os.getpid()
        self._conn: Any = None
        self._unread = 0

    def execute(self, *args: Any) -> Any:
        """Run one command and return its reply."""
        conn = self._connection()
        if conn is None:
            return self.client.execute_command(*args)  # type: ignore[no-untyped-call]
        try:
            _send(conn, args)
            return conn.read_response()
        except (redis.ConnectionError, redis.TimeoutError):
            self.close()
            return self.client.execute_command(*args)  # type: ignore[no-untyped-call]

    def send(self, *args: Any) -> None:
        """Write a command whose reply nobody needs now (a status write); errors are logged later."""
        conn = self._connection()
        if conn is None:
            self.client.execute_command(*args)  # type: ignore[no-untyped-call]
            return
        try:
            _send(conn, args)
            self._unread += 1
        except (redis.ConnectionError, redis.TimeoutError):
            self.close()
            self.client.execute_command(*args)  # type: ignore[no-untyped-call]

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
        sent = 0
        try:
            for args in commands:
                _send(conn, tuple(args))
                sent += 1
        except (redis.ConnectionError, redis.TimeoutError):
            self.close()
            raise
        except BaseException:
            self._unread += sent  # the caller's generator failed: drain those replies before the next command
            raise
        return self._read_replies(conn, sent)

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
            self.close()
            raise
        if error is not None:
            raise error
        return replies

    def sync(self) -> None:
        """Wait until every command sent on this lane has been applied."""
        self._connection()

    def script(self, script: Any, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run a registered script by its sha, loading it on first use."""
        try:
            return self.execute("EVALSHA", script.sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            return script(keys=keys, args=args)

    def _connection(self) -> Any:
        """The held connection with no reply outstanding, or None on another thread."""
        if threading.get_ident() != self._owner:
            return None
        conn, pid = self._conn, os.getpid()
        if conn is None or pid != self._pid:  # after a fork the parent's socket is not ours to use or close
            self._pid, self._unread = pid, 0
            conn = self._conn = self.client.connection_pool.get_connection()
        while self._unread:
            self._unread -= 1
            try:
                conn.read_response()
            except redis.ResponseError as exc:
                log.warning("a pipelined Redis write failed: %s", exc)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                log.warning("a pipelined Redis write may be lost (%s)", exc)
                self.close()
                return self._connection()
        return conn

    def close(self) -> None:
        conn, self._conn, self._unread = self._conn, None, 0
        if conn is not None:
            conn.disconnect()
            self.client.connection_pool.release(conn)


def _send(conn: Any, args: tuple[Any, ...]) -> None:
    if _pack is not None:
        conn.send_packed_command([_pack(args)])
    else:
        conn.send_command(*args)
