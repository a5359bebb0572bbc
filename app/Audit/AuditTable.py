"""The `queue_audit` table: one append-only row per lifecycle event or operator action; no payload data."""
from __future__ import annotations

from sqlalchemy import Column, Double, Index, Integer, String, Table

from app.Queue.Database.tables import Id, metadata

queue_audit = Table(
    "queue_audit",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", Double, nullable=False),  # unix seconds (app/Queue/Support/time); a double: FLOAT would round them
    Column("event", String(32), nullable=False),
    Column("job_id", String(64), nullable=True),
    Column("job_class", String(191), nullable=True),
    Column("queue", String(191), nullable=True),
    Column("connection", String(64), nullable=True),
    Column("tenant", String(191), nullable=True),
    Column("attempt", Integer, nullable=True),
    Column("host", String(191), nullable=False),
    Column("actor", String(191), nullable=False),
    Column("detail", String(191), nullable=True),  # an exception class or a count, never a message or payload
    Index("ix_queue_audit_at", "at"),
    # Only the append-ordered `at` is indexed. A job_id index (random uuids) cost the worker about
    # 10 us of CPU per entry on SQLite, growing with the table (bench/audit_overhead.py): most of
    # the trail's cost. `queue:audit --job/--tenant` and queue:forget-tenant are rare and scan.
)
