"""Gather what one `dispatch()` writes besides its record, so the Redis driver stores it all in one script call.

While a `DispatchWrites` is open (a context variable: per thread and per asyncio task), the
Redis cache store hands it the job's pending status instead of sending it, and the Redis lock
store hands it the unique lock instead of taking it, when they live on the same server and
database as the queue. The driver's DISPATCH script then takes the lock (or refuses the whole
dispatch), writes the status, the record and the wake-up token atomically: one round trip, and
two racing dispatches of one unique job leave exactly one record.
"""
from __future__ import annotations

from contextvars import ContextVar, Token
from functools import partial
from typing import Any, Callable, Hashable, NamedTuple

STATUS_PREFIX = "status:"  # JobStatuses.StatusRepository.key(): only the job's status record is taken over


class StatusWrite(NamedTuple):
    """A cache SET the script does: key, stored "<expiry>|<json>", server TTL in ms ("" = none)."""

    key: str
    value: str
    px: Any


class LockTake(NamedTuple):
    """A unique lock the script takes unless a live owner holds it (RedisLocks ACQUIRE semantics)."""

    key: str
    value: str  # "<expires_at_ms>|<owner>"
    now_ms: int
    px: int  # server eviction TTL in ms, 0 = none


# A StatusWrite from a tuple of its fields, without NamedTuple's Python-level __new__ (one per dispatch)
_new_status = partial(tuple.__new__, StatusWrite)

_open: ContextVar[DispatchWrites | None] = ContextVar("redis_dispatch_writes", default=None)


class DispatchWrites:
    """The status and lock of the dispatch under way on one Redis server; a context manager."""

    __slots__ = ("server", "status", "lock", "_token")

    def __init__(self, server: Hashable) -> None:
        self.server = server
        self.status: StatusWrite | None = None
        self.lock: LockTake | None = None
        self._token: Token[DispatchWrites | None] | None = None

    def __enter__(self) -> DispatchWrites:
        self._token = _open.set(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._token is not None:
            _open.reset(self._token)
            self._token = None

    def take_status(self, server: Hashable, key: str, value: str, px: Any) -> bool:
        """Keep a status write of this server for the script; False: the store writes it itself."""
        if self.status is not None or server != self.server:
            return False
        self.status = _new_status((key, value, px))
        return True

    def take_lock(self, server: Hashable, lock: LockTake) -> bool:
        """Keep a lock of this server for the script (it is taken or refused there); False: take it now."""
        if self.lock is not None or server != self.server:
            return False
        self.lock = lock
        return True


# The dispatch under way in this context, if any: the context variable's own get (a C call), asked by
# every dispatch's status write.
open_writes: Callable[[], DispatchWrites | None] = _open.get


def server_identity(client: Any) -> Hashable | None:
    """What names the server and database a plain client talks to; None for a cluster (no script spans slots)."""
    pool = getattr(client, "connection_pool", None)
    kwargs = getattr(pool, "connection_kwargs", None)
    if kwargs is None:  # RedisCluster has no single pool
        return None
    service = getattr(pool, "service_name", None)  # Sentinel: the master's name, wherever it is now
    return (type(pool).__name__, service, kwargs.get("host"), kwargs.get("port"), kwargs.get("path"),
            kwargs.get("db", 0), kwargs.get("username"))
