"""The Redis driver's dispatch side on redis.asyncio, for `app.Queue.aio` (seed 000's `await queue.push`).

Only what a dispatcher does is here: push, bulk push and sizes. It sends the same Lua
scripts (app/Queue/LuaScripts.py) to the same keys as the sync RedisQueue, so workers
cannot tell who pushed. A job's pending status is written in the same pipeline when the
cache store is the same Redis server, so one push is one round trip, awaited on the loop.

A redis.asyncio client belongs to the event loop that first used it; `app.Queue.aio`
keeps one AsyncRedisQueue per loop and connection, and `aclose()` releases it.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError

from app.Queue import LuaScripts
from app.Queue.contracts import PushItem, QueueSizes
from app.Queue.Redis import clients
from app.Queue.Redis.clients import require_enabled
from app.Queue.Redis.errors import where
from app.Queue.errors import ConfigurationError, ConnectionUnavailableError
from app.Queue.Drivers.RedisQueue import QueueKeys
from app.Queue.Support.time import now

POOL_SIZE = 16  # connections per event loop and Redis connection
PUSH_CHUNK = 500  # jobs per PUSH script call in a bulk (the script takes at most ~1,000)

# (key, stored value, server TTL in ms or None): a cache-store SET sent beside the push.
StatusWrite = tuple[str, str, "int | None"]


def server_of(config: Mapping[str, Any]) -> clients.RedisTarget:
    """Identify a Redis server and database (URL, TLS, unix socket included): equal targets share a client."""
    return clients.target(config)


def supports(config: Mapping[str, Any]) -> bool:
    """Whether redis.asyncio can serve `config`: one server (TCP, TLS or unix), not a Cluster or Sentinel set."""
    t = server_of(config)
    return not (t.cluster or t.sentinels)


class AsyncRedisQueue:
    """Push to and count a Redis connection's queues without blocking the event loop."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        require_enabled(config)
        self.config = dict(config)
        self.prefix = str(config.get("prefix") or "queues:")
        t = server_of(config)
        kwargs = t.connection_kwargs()
        tls = bool(kwargs.pop("ssl", False))
        if t.unix_path:
            kwargs = {k: v for k, v in kwargs.items() if not k.startswith("ssl")}
            kwargs.update(connection_class=aioredis.UnixDomainSocketConnection, path=t.unix_path)
        else:
            kwargs.update(host=t.host, port=t.port, socket_keepalive=True)
            if tls:
                kwargs["connection_class"] = aioredis.SSLConnection
        # Bounded and blocking: `asyncio.gather` of thousands of dispatches waits for one of
        # POOL_SIZE connections instead of opening one per push (and hitting "Too many connections").
        pool = aioredis.BlockingConnectionPool(db=t.db, max_connections=POOL_SIZE, timeout=None, **kwargs)
        self.client = aioredis.Redis(connection_pool=pool)
        self._size = self.client.register_script(LuaScripts.SIZE)
        self._push_sha: str | None = None
        self._keys: dict[str, QueueKeys] = {}

    def keys(self, queue: str) -> QueueKeys:
        """The keys of `queue` (kept per queue, as the sync driver does)."""
        keys = self._keys.get(queue)
        if keys is None:
            keys = self._keys[queue] = QueueKeys.of(self.prefix, queue)
        return keys

    async def push(self, item: PushItem, statuses: Sequence[StatusWrite] = ()) -> None:
        """Store one job (and its status records) in one round trip."""
        await self.bulk([item], statuses)

    async def bulk(self, items: Sequence[PushItem], statuses: Sequence[StatusWrite] = ()) -> None:
        """Store jobs with one PUSH call per queue and chunk, statuses first, all in one pipeline."""
        t = now()
        by_queue: dict[str, list[PushItem]] = {}
        for item in items:
            by_queue.setdefault(item.queue, []).append(item)
        try:
            if self._push_sha is None:
                self._push_sha = await self.client.script_load(LuaScripts.PUSH)
            try:
                await self._send(by_queue, statuses, t)
            except NoScriptError:  # the server restarted or was flushed: load again, resend
                self._push_sha = await self.client.script_load(LuaScripts.PUSH)
                await self._send(by_queue, statuses, t)
        except aioredis.RedisError as exc:
            raise self._translate(exc) from exc

    async def _send(self, by_queue: Mapping[str, list[PushItem]], statuses: Sequence[StatusWrite], t: float) -> None:
        """One pipeline: the status SETs, then one PUSH call per queue and chunk."""
        async with self.client.pipeline(transaction=False) as pipe:
            for key, value, px in statuses:
                pipe.set(key, value, px=px)
            for queue, queued in by_queue.items():
                k = self.keys(queue)
                for start in range(0, len(queued), PUSH_CHUNK):
                    args: list[Any] = [t]
                    for item in queued[start:start + PUSH_CHUNK]:
                        args += [t + item.delay if item.delay > 0 else 0, int(item.priority), item.payload]
                    pipe.evalsha(self._push_sha, 4, k.pending, k.delayed, k.notify, k.seq, *args)
            await pipe.execute()

    async def sizes(self, queue: str) -> QueueSizes:
        """Count pending, delayed and reserved jobs of `queue` (SIZE script, as the sync driver)."""
        k = self.keys(queue)
        try:
            pending, delayed, reserved = await self._size(keys=[k.pending, k.delayed, k.reserved], args=[now()])
        except aioredis.RedisError as exc:
            raise self._translate(exc) from exc
        return QueueSizes(int(pending), int(delayed), int(reserved))

    async def aclose(self) -> None:
        """Close the client's connections (on the loop that opened them)."""
        await self.client.aclose(close_connection_pool=True)

    def _translate(self, exc: BaseException) -> BaseException:
        """The sync driver's one-line errors for the same failures."""
        if isinstance(exc, aioredis.AuthenticationError):
            return ConfigurationError(f"Redis at {where(self.config)} refused the credentials ({exc}); check REDIS_PASSWORD")
        if isinstance(exc, (aioredis.ConnectionError, aioredis.TimeoutError)):
            return ConnectionUnavailableError(
                f"cannot connect to Redis at {where(self.config)}: {exc}; check REDIS_HOST/REDIS_PORT and that redis-server is running")
        return exc
