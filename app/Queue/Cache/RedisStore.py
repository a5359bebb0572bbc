"""Cache store on Redis: status, flags, locks and counters shared by every process.

`put` is pipelined (HeldConnection.send): it returns once the write is sent, and every later
call of this store in the same thread reads its reply first, so reads see the write.

Values are stored as `"<expiry>|<json>"` with the expiry taken from Python's clock
(app/Queue/Support/time.py), so expiry obeys freezegun like every other time rule;
a server TTL slightly longer than the logical one only reclaims memory.
"""
from __future__ import annotations

import json
import math
from typing import Any, Mapping

from app.Queue import LuaScripts
from app.Queue.Redis.clients import close_client, is_cluster, make_client
from app.Queue.Redis.dispatch_writes import STATUS_PREFIX, open_writes, server_identity
from app.Queue.Redis.errors import translate_errors
from app.Queue.Redis.HeldConnection import HeldConnection
from app.Queue.Support.compact_json import dumps_encoder
from app.Queue.Support.time import now

GC_SLACK_MS = 60_000  # the server drops a key this long after its logical expiry
PUT_MANY_CHUNK = 1000  # entries per script call: bounded script runtime
# json.dumps(value), byte for byte, with the C encoder made once: a worker's status flush encodes a record per job
_dumps = dumps_encoder()


def _decode(raw: str | None, t: float) -> Any | None:
    if raw is None:
        return None
    expiry, _, body = raw.partition("|")
    try:
        if expiry and float(expiry) <= t:
            return None
        return json.loads(body)
    except (ValueError, RecursionError):  # a value the store was made to hold: absent, not fatal
        return None


class RedisStore:
    """A CacheStore over redis-py; add and increment are Lua scripts, atomic across processes."""

    def __init__(self, client: Any, prefix: str = "cache:", config: Mapping[str, Any] | None = None) -> None:
        self.client = client
        self.prefix = prefix
        self.config = dict(config or {})
        self.held = HeldConnection(client)
        # On Redis Cluster, commands and scripts that name several keys go one hash slot at a time.
        self.cluster = is_cluster(client)
        self.server = server_identity(client)  # a dispatch on this server takes the status into its script
        self._add = client.register_script(LuaScripts.CACHE_ADD)
        self._increment = client.register_script(LuaScripts.CACHE_INCREMENT)
        self._put_many = client.register_script(LuaScripts.CACHE_PUT_MANY)
        self._put_all = client.register_script(LuaScripts.CACHE_PUT_ALL)

    @property
    def lane(self) -> Any:
        """The held connection under its former name."""
        return self.held

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RedisStore:
        """Build the store for a `connections.redis` config; keys live under `<QUEUE_PREFIX>cache:`."""
        prefix = str(config.get("cache_prefix") or f"{config.get('prefix') or 'queues:'}cache:")
        return cls(make_client(config), prefix, config)

    def key(self, key: str) -> str:
        """The Redis key that holds cache key `key`."""
        return self.prefix + key

    @staticmethod
    def _stored(value: Any, ttl: float | None, t: float) -> tuple[str, int | None]:
        """Encode a value with its expiry; returns (stored text, server TTL in ms or None)."""
        return RedisStore._framed(_dumps(value), ttl, t)

    @staticmethod
    def _framed(body: str, ttl: float | None, t: float) -> tuple[str, int | None]:
        """Prefix JSON text with its expiry; returns (stored text, server TTL in ms or None)."""
        if ttl is None:
            return "|" + body, None
        return f"{t + ttl!r}|{body}", max(1, math.ceil(ttl * 1000)) + GC_SLACK_MS

    def get(self, key: str) -> Any | None:
        with translate_errors(self.config):
            raw = self.held.execute("GET", self.key(key))
        return _decode(raw, now())

    def many(self, keys: list[str]) -> dict[str, Any]:
        """Read several keys in one round trip; absent and expired keys are left out."""
        if not keys:
            return {}
        with translate_errors(self.config):
            full = [self.key(k) for k in keys]
            raws = self.client.mget_nonatomic(full) if self.cluster else self.held.execute("MGET", *full)
        t = now()
        values = {k: _decode(raw, t) for k, raw in zip(keys, raws)}
        return {k: v for k, v in values.items() if v is not None}

    def put(self, key: str, value: Any, ttl: float | None = None) -> None:
        self.put_encoded(key, _dumps(value), ttl)

    def put_encoded(self, key: str, text: str, ttl: float | None = None) -> None:
        """`put` of a value already encoded by json.dumps (the status record every dispatch writes)."""
        if ttl is None:
            stored, px = "|" + text, None
        else:  # _framed spelt out: every dispatch writes its pending status through here
            stored, px = f"{now() + ttl!r}|{text}", max(1, math.ceil(ttl * 1000)) + GC_SLACK_MS
        writes = open_writes()
        if writes is not None and key.startswith(STATUS_PREFIX) and \
                writes.take_status(self.server, self.prefix + key, stored, "" if px is None else px):
            return  # written by the dispatch's one script call (Drivers/RedisQueue.push_dispatch)
        with translate_errors(self.config):
            if px is None:
                self.held.send("SET", self.key(key), stored)
            else:
                self.held.send("SET", self.key(key), stored, "PX", px)

    def put_many(self, items: list[tuple[str, Any, float | None]]) -> None:
        """Write several (key, value, ttl) entries with one script call per PUT_MANY_CHUNK entries."""
        t = now()
        frames: dict[float | None, tuple[str, int | str]] = {}  # per ttl: the expiry prefix and server TTL, spelt once
        prefix = self.prefix
        with translate_errors(self.config):
            for start in range(0, len(items), PUT_MANY_CHUNK):
                keys: list[str] = []
                args: list[Any] = []
                for key, value, ttl in items[start:start + PUT_MANY_CHUNK]:
                    frame = frames.get(ttl)
                    if frame is None:  # _framed's text without the body: every status of a flush has the same ttl
                        head, px = self._framed("", ttl, t)
                        frame = frames[ttl] = (head, "" if px is None else px)
                    keys.append(prefix + key)
                    args += (frame[0] + _dumps(value), frame[1])
                if self.cluster:
                    self._set_each(keys, args[0::2], args[1::2])
                else:
                    self.held.script(self._put_many, keys, args)

    def put_all(self, keys: list[str], value: Any, ttl: float | None = None) -> None:
        """Write one value under many keys, pipelined like `put`: one script call per PUT_MANY_CHUNK keys."""
        stored, px = self._stored(value, ttl, now())
        with translate_errors(self.config):
            for start in range(0, len(keys), PUT_MANY_CHUNK):
                chunk = [self.prefix + k for k in keys[start:start + PUT_MANY_CHUNK]]
                if self.cluster:
                    self._set_each(chunk, [stored] * len(chunk), ["" if px is None else px] * len(chunk))
                else:
                    self.held.send_script(self._put_all, chunk, [stored, "" if px is None else px])

    def add(self, key: str, value: Any, ttl: float | None = None) -> bool:
        t = now()
        stored, px = self._stored(value, ttl, t)
        with translate_errors(self.config):
            return bool(self.held.script(self._add, [self.key(key)], [repr(t), stored, "" if px is None else px]))

    def forget(self, key: str) -> None:
        with translate_errors(self.config):
            self.held.execute("DEL", self.key(key))

    def forget_many(self, keys: list[str]) -> None:
        """Delete several keys, one DEL per PUT_MANY_CHUNK."""
        with translate_errors(self.config):
            for start in range(0, len(keys), PUT_MANY_CHUNK):
                chunk = [self.prefix + k for k in keys[start:start + PUT_MANY_CHUNK]]
                if self.cluster:
                    self.client.delete(*chunk)  # split by slot by the cluster client
                else:
                    self.held.execute("DEL", *chunk)

    def increment(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        t = now()
        expiry, px = ("", "") if ttl is None else (repr(t + ttl), max(1, math.ceil(ttl * 1000)) + GC_SLACK_MS)
        with translate_errors(self.config):
            return int(self.held.script(self._increment, [self.key(key)], [repr(t), int(amount), expiry, px]))

    def flush_prefix(self, prefix: str) -> int:
        """Delete every key starting with `prefix`."""
        pattern = "".join("\\" + c if c in "*?[]\\" else c for c in self.key(prefix)) + "*"
        deleted = 0
        with translate_errors(self.config):
            self.held.sync()
            batch: list[str] = []
            for name in self.client.scan_iter(match=pattern, count=1000):
                batch.append(name)
                if len(batch) >= 500:
                    deleted += int(self.client.delete(*batch))
                    batch.clear()
            if batch:
                deleted += int(self.client.delete(*batch))
        return deleted

    def _set_each(self, keys: list[str], values: list[str], pxs: list[Any]) -> None:
        """On a cluster, where one script may not touch keys of many slots: one pipelined SET per key,
        which the cluster client groups by node."""
        pipe = self.client.pipeline()
        for key, value, px in zip(keys, values, pxs):
            pipe.set(key, value, px=int(px) if px != "" else None)
        pipe.execute()

    def close(self) -> None:
        self.held.close()
        close_client(self.client)
