"""The `completed_jobs` table: recently completed jobs for the dashboard, pruned after the completed trim.

One row per worker flush (up to a second of one worker's jobs): `jobs` is a JSON array of
rows in CompletedRows.COLUMNS order. A row per job cost a worker an insert into three
B-trees per job (a tenth of a no-op job's CPU on SQLite); a row per flush costs one JSON
encode per job, and the dashboard decodes only the flushes a page shows.
"""
from __future__ import annotations

from sqlalchemy import Column, Double, Index, Integer, Table

from app.Queue.database.tables import Id, LongText, metadata

completed_jobs = Table(
    "completed_jobs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("first_at", Double, nullable=False),  # completion time of the flush's first and last job
    Column("last_at", Double, nullable=False),
    Column("count", Integer, nullable=False),
    Column("jobs", LongText, nullable=False),
    Index("ix_completed_jobs_last_at", "last_at"),
)
