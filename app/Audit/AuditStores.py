"""Where audit entries live: the `queue_audit` table (database drivers) or a capped Redis stream.

Both take entries in batches (`append_many`), answer `query` newest last, and support the
retention (`prune(before)`) and erasure (`forget_tenant`) verbs.
"""
from __future__ import annotations

import json
from typing import Any, Mapping, Protocol, Sequence

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from app.Audit.AuditEntry import AuditEntry
from app.Audit.AuditTable import queue_audit
from app.Queue.database.connection import translate_errors

COLUMNS = list(AuditEntry._fields)
_PLACEHOLDER = {"qmark": "?", "format": "%s", "pyformat": "%s", "numeric": None, "named": None}


class AuditStore(Protocol):
    """Append-only storage of audit entries."""

    def append_many(self, entries: Sequence[AuditEntry]) -> None: ...

    def query(self, job: str | None = None, tenant: str | None = None, since: float | None = None,
              limit: int = 100) -> list[AuditEntry]: ...

    def prune(self, before: float) -> int: ...

    def forget_tenant(self, tenant: str) -> int: ...


class DatabaseAuditStore:
    """Audit entries in the `queue_audit` table, written with one multi-row INSERT per batch."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._url = str(engine.url)

    def append_many(self, entries: Sequence[AuditEntry]) -> None:
        if not entries:
            return
        with translate_errors(self._url), self.engine.begin() as conn:
            mark = _PLACEHOLDER.get(conn.dialect.paramstyle)
            if mark is None:
                conn.execute(queue_audit.insert(), [e.as_dict() for e in entries])
                return
            # The entries are tuples in column order: handed to the driver's executemany as they
            # are, skipping SQLAlchemy's per-row parameter processing (most of the trail's cost).
            sql = f"INSERT INTO {queue_audit.name} ({', '.join(COLUMNS)}) VALUES ({', '.join([mark] * len(COLUMNS))})"
            conn.exec_driver_sql(sql, list(entries))

    def query(self, job: str | None = None, tenant: str | None = None, since: float | None = None,
              limit: int = 100) -> list[AuditEntry]:
        q = select(*[queue_audit.c[c] for c in COLUMNS]).order_by(queue_audit.c.id.desc())
        if limit:
            q = q.limit(limit)
        if job:
            q = q.where(queue_audit.c.job_id == job)
        if tenant:
            q = q.where(queue_audit.c.tenant == tenant)
        if since is not None:
            q = q.where(queue_audit.c.at >= since)
        with translate_errors(self._url), self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [AuditEntry(*r) for r in reversed(rows)]

    def prune(self, before: float) -> int:
        with translate_errors(self._url), self.engine.begin() as conn:
            return int(conn.execute(delete(queue_audit).where(queue_audit.c.at < before)).rowcount or 0)

    def forget_tenant(self, tenant: str) -> int:
        with translate_errors(self._url), self.engine.begin() as conn:
            return int(conn.execute(delete(queue_audit).where(queue_audit.c.tenant == tenant)).rowcount or 0)


class RedisAuditStore:
    """Audit entries in one stream (`{prefix}audit`), capped at `max_len` entries (XADD MAXLEN ~)."""

    def __init__(self, client: Any, key: str, max_len: int, config: Mapping[str, Any]) -> None:
        self.client = client
        self.key = key
        self.max_len = max_len
        self.config = config

    @classmethod
    def from_config(cls, config: Mapping[str, Any], max_len: int) -> RedisAuditStore:
        from app.Queue.Drivers.RedisConnection import make_client

        return cls(make_client(config), f"{config.get('prefix') or 'queues:'}audit", max_len, config)

    def append_many(self, entries: Sequence[AuditEntry]) -> None:
        if not entries:
            return
        from app.Queue.Drivers.RedisConnection import translate_errors as redis_errors

        with redis_errors(self.config):
            pipe = self.client.pipeline(transaction=False)
            for e in entries:
                pipe.xadd(self.key, {"e": json.dumps(e.as_dict(), separators=(",", ":"))},
                          maxlen=self.max_len, approximate=True)
            pipe.execute()

    def _all(self) -> list[tuple[str, AuditEntry]]:
        from app.Queue.Drivers.RedisConnection import translate_errors as redis_errors

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
        from app.Queue.Drivers.RedisConnection import translate_errors as redis_errors

        if not ids:
            return 0
        removed = 0
        with redis_errors(self.config):
            for i in range(0, len(ids), 500):
                removed += int(self.client.xdel(self.key, *ids[i:i + 500]))
        return removed
