"""Owned locks in Redis: one key per lock, taken and released by small Lua scripts.

The stored value is `<expires_at_ms>|<owner>`. Expiry is judged against the time
the app passes in (ARGV), never Redis TIME, so every store agrees on one clock and
freezegun controls lock TTLs; the key also carries a PX expiry (TTL plus a margin)
so Redis evicts abandoned locks on its own. Equivalent to SET NX PX, plus the clock.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator, Mapping

import redis

from app.Queue.Cache.Locks import FOREVER
from app.Queue.Redis.clients import close_client, make_client
from app.Queue.Redis.dispatch_writes import LockTake, open_writes, server_identity
from app.Queue.Redis.errors import translate, where
from app.Queue.errors import ConnectionUnavailableError
from app.Queue.Support.time import now

EVICTION_MARGIN_MS = 60_000  # Redis drops a lock this long after its app-clock expiry

ACQUIRE = """
-- KEYS[1] lock key
-- ARGV[1] owner token, ARGV[2] expires at (unix ms), ARGV[3] now (unix ms), ARGV[4] PX eviction (ms, 0: none)
local current = redis.call('GET', KEYS[1])
if current then
  local sep = string.find(current, '|', 1, true)
  if sep and tonumber(string.sub(current, 1, sep - 1)) > tonumber(ARGV[3]) then
    return 0
  end
end
local value = ARGV[2] .. '|' .. ARGV[1]
if tonumber(ARGV[4]) > 0 then
  redis.call('SET', KEYS[1], value, 'PX', ARGV[4])
else
  redis.call('SET', KEYS[1], value)
end
return 1
"""

RELEASE = """
-- KEYS[1] lock key
-- ARGV[1] owner token: delete the lock only if this owner holds it (compare-and-delete)
local current = redis.call('GET', KEYS[1])
if not current then
  return 0
end
local sep = string.find(current, '|', 1, true)
if sep and string.sub(current, sep + 1) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""


def _split(value: str | None) -> tuple[float, str] | None:
    if not value or "|" not in value:
        return None
    expires, owner = value.split("|", 1)
    return float(expires) / 1000.0, owner


class RedisLocks:
    """LockStore over Redis keys `<prefix>lock:<key>`."""

    def __init__(self, client: Any, prefix: str = "queues:", config: Mapping[str, Any] | None = None) -> None:
        self.client = client
        self.config = dict(config or {})
        self.prefix = f"{prefix}lock:"
        self._acquire = client.register_script(ACQUIRE)
        self._release = client.register_script(RELEASE)
        self.server = server_identity(client)  # a dispatch on this server takes its unique lock in its script

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RedisLocks:
        """Connect with a redis connection's config (URL or host/port, TLS, Cluster, Sentinel; prefix)."""
        return cls(make_client(config), str(config.get("prefix", "queues:")), config)

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn an unreachable server, or a wrong setting, into one clear line."""
        try:
            yield
        except redis.RedisError as exc:
            translated = translate(exc, self.config)
            if isinstance(translated, ConnectionUnavailableError):
                raise ConnectionUnavailableError(
                    f"cannot reach Redis at {where(self.config)} for locks ({exc}); "
                    "check REDIS_URL or REDIS_HOST/REDIS_PORT, or set CACHE_STORE=database") from exc
            if translated is not None:
                raise translated from exc
            raise

    def acquire(self, key: str, owner: str, ttl: float | None) -> bool:
        t_ms = int(now() * 1000)
        if ttl is None:
            expires, evict = FOREVER, 0
        else:
            expires = t_ms + int(ttl * 1000)
            evict = int(ttl * 1000) + EVICTION_MARGIN_MS
        writes = open_writes()
        if writes is not None and writes.take_lock(self.server, LockTake(self.prefix + key, f"{expires}|{owner}", t_ms, evict)):
            return True  # taken, or the whole dispatch refused, by its one script call (RedisQueue.push_dispatch)
        with self._errors():
            return bool(self._acquire(keys=[self.prefix + key], args=[owner, expires, t_ms, evict]))

    def release(self, key: str, owner: str) -> bool:
        with self._errors():
            return bool(self._release(keys=[self.prefix + key], args=[owner]))

    def force_release(self, key: str) -> None:
        with self._errors():
            self.client.delete(self.prefix + key)

    def owner(self, key: str) -> str | None:
        with self._errors():
            parsed = _split(self.client.get(self.prefix + key))  # type: ignore[arg-type]
        return parsed[1] if parsed is not None and parsed[0] > now() else None

    def release_owned_by_prefix(self, prefix: str) -> int:
        released = 0
        with self._errors():
            for full_key in self.client.scan_iter(match=_glob_escape(self.prefix) + "*", count=500):
                parsed = _split(self.client.get(full_key))  # type: ignore[arg-type]
                if parsed is not None and parsed[1].startswith(prefix):
                    released += int(self._release(keys=[full_key], args=[parsed[1]]))
        return released

    def close(self) -> None:
        close_client(self.client)


def _glob_escape(text: str) -> str:
    """Escape SCAN MATCH wildcards in a literal prefix."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
