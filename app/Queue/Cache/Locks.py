"""Owned locks with a TTL (unique jobs, WithoutOverlapping), and the database implementation.

A lock is a key held by an owner token until it is released by that owner or its
TTL passes. Expiry is judged with the one clock (`now()`), never the server's, so
freezegun moves lock expiry together with everything else.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import and_, delete, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from app.Queue.Database.connection import run_transaction, translate_errors
from app.Queue.Database.tables import cache_locks
from app.Queue.Support.time import now

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager

FOREVER = 2**62


class LockStore(Protocol):
    """Atomic owned locks; only the owner may release, anyone may take an expired lock."""

    def acquire(self, key: str, owner: str, ttl: float | None) -> bool:
        """Take `key` for `owner` for `ttl` seconds (None: until released); False when held."""

    def release(self, key: str, owner: str) -> bool:
        """Release `key` if `owner` still holds it; True when released."""

    def force_release(self, key: str) -> None:
        """Release `key` whoever holds it."""

    def owner(self, key: str) -> str | None:
        """Name the current holder of `key` (None when free or expired)."""

    def release_owned_by_prefix(self, prefix: str) -> int:
        """Release every lock whose owner token starts with `prefix` (queue:clear); returns how many."""


def expiry_of(ttl: float | None) -> int:
    """Whole unix second at which a lock taken now expires (rounded up, never early)."""
    return FOREVER if ttl is None else math.ceil(now() + ttl)


def like_prefix(prefix: str) -> str:
    """Escape `prefix` for a LIKE 'prefix%' match (queue names may hold `_` or `%`)."""
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class DatabaseLocks:
    """LockStore on the `cache_locks` table: INSERT, or take over an expired row, in one transaction."""

    def __init__(self, engine: Engine, prefix: str = "") -> None:
        self.engine = engine
        self.prefix = prefix
        self._url = str(engine.url)

    def acquire(self, key: str, owner: str, ttl: float | None) -> bool:
        k, exp, t = self.prefix + key, expiry_of(ttl), now()

        def take(conn: Connection) -> None:
            taken = conn.execute(
                update(cache_locks).where(cache_locks.c.key == k, cache_locks.c.expiration <= t).values(owner=owner, expiration=exp)
            ).rowcount
            if not taken:
                conn.execute(cache_locks.insert().values(key=k, owner=owner, expiration=exp))

        try:  # racing acquirers on MySQL may deadlock: run_transaction reruns the loser
            run_transaction(self.engine, take)
            return True
        except IntegrityError:  # the row exists and has not expired: someone holds it
            return False

    def release(self, key: str, owner: str) -> bool:
        mine = and_(cache_locks.c.key == self.prefix + key, cache_locks.c.owner == owner)
        with translate_errors(self._url), self.engine.begin() as conn:
            return conn.execute(delete(cache_locks).where(mine)).rowcount > 0

    def force_release(self, key: str) -> None:
        with translate_errors(self._url), self.engine.begin() as conn:
            conn.execute(delete(cache_locks).where(cache_locks.c.key == self.prefix + key))

    def owner(self, key: str) -> str | None:
        query = select(cache_locks.c.owner, cache_locks.c.expiration).where(cache_locks.c.key == self.prefix + key)
        with translate_errors(self._url), self.engine.connect() as conn:
            row = conn.execute(query).first()
        return row.owner if row is not None and row.expiration > now() else None

    def release_owned_by_prefix(self, prefix: str) -> int:
        query = delete(cache_locks).where(cache_locks.c.owner.like(like_prefix(prefix), escape="\\"))
        if self.prefix:
            query = query.where(cache_locks.c.key.like(like_prefix(self.prefix), escape="\\"))
        with translate_errors(self._url), self.engine.begin() as conn:
            return conn.execute(query).rowcount


def make_lock_store(manager: QueueManager) -> LockStore:
    """Build the lock store where the cache lives: Redis when CACHE_STORE=redis, else cache_locks."""
    if manager.config.get("cache_store", "database") == "redis":
        from app.Queue.Cache.RedisLocks import RedisLocks  # lazy: redis-py only where CACHE_STORE=redis

        return RedisLocks.from_config(manager.connection_config("redis"))
    return DatabaseLocks(manager.engine())
