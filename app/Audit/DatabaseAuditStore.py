"""Audit entries in the `queue_audit` table (database drivers), written with one multi-row INSERT per batch."""
from __future__ import annotations

from typing import Sequence

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from app.Audit.AuditEntry import AuditEntry
from app.Audit.AuditStores import COLUMNS
from app.Audit.AuditTable import queue_audit
from app.Queue.Database import mysql_rows
from app.Queue.Database.connection import translate_errors

SQLITE_ROWS = 90  # rows per multi-row INSERT on SQLite: 90 x 11 columns < 999 variables
_PLACEHOLDER = {"qmark": "?", "format": "%s", "pyformat": "%s", "numeric": None, "named": None}


class DatabaseAuditStore:
    """Audit entries in the `queue_audit` table, written with one multi-row INSERT per batch."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._url = str(engine.url)

    def sync(self) -> None:
        """Nothing to wait for: every append is committed before it returns."""

    def append_many(self, entries: Sequence[AuditEntry], wait: bool = True) -> None:
        """Insert the entries in one transaction (`wait` is for stores that can send without waiting)."""
        if not entries:
            return
        with translate_errors(self._url), self.engine.begin() as conn:
            mark = _PLACEHOLDER.get(conn.dialect.paramstyle)
            if mark is None:
                conn.execute(queue_audit.insert(), [e.as_dict() for e in entries])
                return
            # The entries are tuples in column order: handed to the driver as they are, skipping
            # SQLAlchemy's per-row parameter processing (most of the trail's cost).
            row = f"({', '.join([mark] * len(COLUMNS))})"
            head = f"INSERT INTO {queue_audit.name} ({', '.join(COLUMNS)}) VALUES "
            if mysql_rows.applies(conn):  # a bulk's entries repeat all but their uuid: spelled once each
                mysql_rows.insert_rows(conn, head, entries, [c == "job_id" for c in COLUMNS])
                return
            if mark != "?":  # psycopg batches an executemany itself
                conn.exec_driver_sql(head + row, list(entries))
                return
            # SQLite runs an executemany row by row: multi-row INSERTs cost a third less CPU per
            # entry (bench/audit_overhead.py). SQLITE_ROWS rows keep under the oldest builds' 999 variables.
            for i in range(0, len(entries), SQLITE_ROWS):
                chunk = entries[i:i + SQLITE_ROWS]
                conn.exec_driver_sql(head + ", ".join([row] * len(chunk)), tuple(v for e in chunk for v in e))

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
