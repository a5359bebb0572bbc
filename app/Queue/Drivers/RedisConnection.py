"""Build redis-py clients from a connection's config and turn their errors into one clear line."""
from __future__ import annotations

import contextlib
from typing import Any, Iterator, Mapping

import redis

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
