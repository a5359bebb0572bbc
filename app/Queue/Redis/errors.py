"""Turn redis-py errors about the connection itself into one clear line naming the server and the setting."""
from __future__ import annotations

from typing import Any, Mapping

import redis

from app.Queue.errors import ConfigurationError, ConnectionUnavailableError
from app.Queue.Redis import clients


def where(config: Mapping[str, Any]) -> str:
    """Say which server a config points at."""
    try:
        return clients.target(config).where()
    except ConfigurationError:
        return f"{config.get('host') or '127.0.0.1'}:{int(config.get('port') or 6379)}"


REASON_MAX = 200  # characters of redis-py's message kept in our one line


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0].strip().rstrip(".") if str(exc).strip() else ""
    # redis-py says "Error 111 connecting to host:port. Connection refused."; keep the reason only.
    if "connecting to" in text and ". " in text:
        text = text.rsplit(". ", 1)[1]
    # Sentinel's MasterNotFoundError appends the repr of every client it tried ("... : <redis.client.Redis(...)>").
    text = text.split(" : <", 1)[0]
    if len(text) > REASON_MAX:
        text = text[:REASON_MAX - 1] + "…"
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
        translated = translate(exc, self.config)
        if translated is not None:
            raise translated from exc
        return False


def translate(exc: BaseException, config: Mapping[str, Any]) -> Exception | None:
    """The one-line QueueError for a redis-py error about the connection itself, or None."""
    if isinstance(exc, clients.ServerModeError):
        return ConfigurationError(str(exc))
    if isinstance(exc, redis.AuthenticationError):
        return ConfigurationError(
            f"Redis at {where(config)} refused the credentials ({_reason(exc)}); check REDIS_PASSWORD or REDIS_URL")
    if isinstance(exc, redis.ResponseError) and str(exc).startswith(("MOVED ", "ASK ", "CROSSSLOT", "CLUSTERDOWN")) \
            and not clients.target(config).cluster:
        return ConfigurationError(f"Redis at {where(config)} answers as a Redis Cluster ({_reason(exc)}); set REDIS_CLUSTER=true")
    if isinstance(exc, _CLUSTER_TRANSIENT):  # a failover in progress: the worker waits it out
        return ConnectionUnavailableError(f"Redis at {where(config)} is unavailable ({_reason(exc)}); "
                                          "a failover may be in progress")
    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
        text = str(exc)
        if "SSL" in text or "certificate" in text.lower() or "TLS" in text:
            return ConfigurationError(f"TLS handshake with Redis at {where(config)} failed ({_reason(exc)}); "
                                      "check REDIS_TLS_CA / REDIS_TLS_CERT / REDIS_TLS_KEY and that the URL is rediss://")
        return ConnectionUnavailableError(
            f"cannot connect to Redis at {where(config)}: {_reason(exc)}; "
            "check REDIS_URL or REDIS_HOST/REDIS_PORT and that redis-server is running"
        )
    return None


_CLUSTER_TRANSIENT = (redis.exceptions.ClusterDownError, redis.exceptions.TryAgainError,
                      redis.exceptions.MasterDownError, redis.exceptions.SlotNotCoveredError,
                      redis.exceptions.ClusterError, redis.exceptions.RedisClusterException)
