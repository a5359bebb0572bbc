"""Where audit entries live: the AuditStore protocol and the capped Redis stream.

Both stores (this one and DatabaseAuditStore, the `queue_audit` table) take entries in batches
(`append_many`), answer `query` newest last, and support the retention (`prune(before)`) and
erasure (`forget_tenant`) verbs. The database store has its own module so that a Redis worker
does not import SQLAlchemy for auditing.
"""
from __future__ import annotations

import json
from typing import Any, Mapping, Protocol, Sequence

from app.Audit.AuditEntry import AuditEntry
from app.Audit.AuditJson import AuditJson
from app.Queue import LuaScripts

COLUMNS = list(AuditEntry._fields)
APPEND_CHUNK = 500  # entries per AUDIT_APPEND call: a bounded script runtime


class AuditStore(Protocol):
    """Append-only storage of audit entries."""

    def append_many(self, entries: Sequence[AuditEntry], wait: bool = True) -> None:
        """Write the entries; without `wait`, a store may only send them (`sync` waits for them)."""

    def sync(self) -> None:
        """Return once every entry sent so far is stored."""

    def query(self, job: str | None = None, tenant: str | None = None, since: float | None = None,
              limit: int = 100) -> list[AuditEntry]: ...

    def prune(self, before: float) -> int: ...

    def forget_tenant(self, tenant: str) -> int: ...


class RedisAuditStore:
    """Audit entries in one stream (`{prefix}audit`), capped at `max_len` entries (MAXLEN ~, once per appended batch)."""

    def __init__(self, client: Any, key: str, max_len: int, config: Mapping[str, Any]) -> None:
        self.client = client
        self.key = key
        self.max_len = max_len
        self.config = config
        self._append = client.register_script(LuaScripts.AUDIT_APPEND)
        self._json = AuditJson()
        self._lane: Any = None  # HeldConnection of the appends sent without waiting

    @classmethod
    def from_config(cls, config: Mapping[str, Any], max_len: int) -> RedisAuditStore:
        from app.Queue.Redis.clients import make_client  # lazy: redis-py only where the trail is kept in Redis

        return cls(make_client(config), f"{config.get('prefix') or 'queues:'}audit", max_len, config)

    def append_many(self, entries: Sequence[AuditEntry], wait: bool = True) -> None:
        """One AUDIT_APPEND per APPEND_CHUNK entries; without `wait`, sent on the held connection with
        their replies read before its next command (a bulk dispatch does not wait for the stream)."""
        if not entries:
            return
        from app.Queue.Redis.errors import translate_errors as redis_errors  # lazy: redis-py only for the Redis store

        texts = self._json.encode_many(entries)
        with redis_errors(self.config):
            for start in range(0, len(texts), APPEND_CHUNK):  # one script call per chunk, not one XADD per entry
                args = [self.max_len, *texts[start:start + APPEND_CHUNK]]
                if wait:
                    self._append(keys=[self.key], args=args)
                else:
                    self._held().send_script(self._append, [self.key], args)

    def sync(self) -> None:
        """Wait for the appends sent without waiting (their failures are logged)."""
        if self._lane is not None:
            from app.Queue.Redis.errors import translate_errors as redis_errors  # lazy: redis-py only for the Redis store

            with redis_errors(self.config):
                self._lane.sync()

    def _held(self) -> Any:
        """The connection unwaited appends go out on, made on first use."""
        if self._lane is None:
            from app.Queue.Redis.HeldConnection import HeldConnection  # lazy: redis-py only for the Redis store

            self._lane = HeldConnection(self.client)
        return self._lane

    def _all(self) -> list[tuple[str, AuditEntry]]:
        from app.Queue.Redis.errors import translate_errors as redis_errors  # lazy: redis-py only for the Redis store

        with redis_errors(self.config):
            raw = self.client.xrange(self.key, "-", "+")
        out = []
        for stream_id, data in raw:
            try:
                values = json.loads(data.get("e") or data.get(b"e") or "{}")
                out.append((stream_id, AuditEntry(**{c: values.get(c) for c in COLUMNS})))
            except (ValueError, TypeError):
                continue  # untrusted store: skip what is not an entry
        return out

    def query(self, job: str | None = None, tenant: str | None = None, since: float | None = None,
              limit: int = 100) -> list[AuditEntry]:
        found = [e for _, e in self._all() if (not job or e.job_id == job) and (not tenant or e.tenant == tenant)
                 and (since is None or (e.at or 0) >= since)]
        return found[-limit:] if limit else found

    def prune(self, before: float) -> int:
        old = [sid for sid, e in self._all() if (e.at or 0) < before]
        return self._delete(old)

    def forget_tenant(self, tenant: str) -> int:
        return self._delete([sid for sid, e in self._all() if e.tenant == tenant])

    def _delete(self, ids: list[str]) -> int:
        from app.Queue.Redis.errors import translate_errors as redis_errors  # lazy: redis-py only for the Redis store

        if not ids:
            return 0
        removed = 0
        with redis_errors(self.config):
            for i in range(0, len(ids), 500):
                removed += int(self.client.xdel(self.key, *ids[i:i + 500]))
        return removed
