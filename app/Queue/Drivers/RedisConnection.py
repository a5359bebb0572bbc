"""Build redis-py clients from a connection's config and turn their errors into one clear line."""
from __future__ import annotations

import contextlib
import os
import threading
from typing import Any, Iterator, Mapping, Sequence

import redis

try:
    from hiredis import pack_command as _pack
except ImportError:  # pure-Python redis-py still works, a little slower
    _pack = None  # type: ignore[assignment]

from app.Queue.errors import ConfigurationError, ConnectionUnavailableError


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
    """

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._owner = threading.get_ident()
        self._pid = os.getpid()
        self._conn: Any = None

    def execute(self, *args: Any) -> Any:
        """Run one command and return its reply."""
        if threading.get_ident() != self._owner:
            return self.client.execute_command(*args)  # type: ignore[no-untyped-call]
        conn, pid = self._conn, os.getpid()
        if conn is None or pid != self._pid:  # after a fork the parent's socket is not ours to use or close
            self._pid = pid
            conn = self._conn = self.client.connection_pool.get_connection()
        try:
            if _pack is not None:
                conn.send_packed_command([_pack(args)])
            else:
                conn.send_command(*args)
            return conn.read_response()
        except (redis.ConnectionError, redis.TimeoutError):
            self.close()
            return self.client.execute_command(*args)  # type: ignore[no-untyped-call]

    def script(self, script: Any, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run a registered script by its sha, loading it on first use."""
        try:
            return self.execute("EVALSHA", script.sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            return script(keys=keys, args=args)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.disconnect()
            self.client.connection_pool.release(conn)
