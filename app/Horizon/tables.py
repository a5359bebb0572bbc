"""The `completed_jobs` table: recently completed jobs for the dashboard, pruned after the completed trim."""
from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, String, Table, Text

from app.Queue.database.tables import Id, LongText, metadata

completed_jobs = Table(
    "completed_jobs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("uuid", String(64), nullable=False),
    Column("connection", String(191), nullable=False),
    Column("queue", String(191), nullable=False),
    Column("name", String(191), nullable=False),  # the job's class name (displayName)
    Column("tags", Text, nullable=False),  # JSON list of strings
    Column("data", LongText, nullable=False),  # JSON of the job's data, encrypted/sensitive parts redacted
    Column("attempts", Integer, nullable=False),
    Column("runtime", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("completed_at", Float, nullable=False),
    Index("ix_completed_jobs_completed_at", "completed_at"),
    Index("ix_completed_jobs_uuid", "uuid"),
)
