"""The dashboard's tables: `completed_jobs` (recently completed jobs, pruned after the completed trim) and `job_tags`.

One row per worker flush (up to a second of one worker's jobs): `jobs` is a JSON array of
rows in CompletedRows.COLUMNS order. A row per job cost a worker an insert into three
B-trees per job (a tenth of a no-op job's CPU on SQLite); a row per flush costs one JSON
encode per job, and the dashboard decodes only the flushes a page shows.
"""
from __future__ import annotations

from sqlalchemy import Column, Double, Index, Integer, String, Table

from app.Queue.Database.tables import Id, LongText, metadata

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

# Per-tag index (Horizon's tag lists): a row per (tag, job) for every failed job's tags and for the
# monitored tags of completed jobs, so a tag's counts and failed jobs are index ranges, not payload scans.
job_tags = Table(
    "job_tags",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tag", String(191), nullable=False),
    Column("kind", String(16), nullable=False),  # "failed" or "completed"
    Column("job_id", String(64), nullable=False),
    Column("at", Double, nullable=False),  # when the job failed or completed
    Index("ix_job_tags_tag_kind_at", "tag", "kind", "at"),
    Index("ix_job_tags_at", "at"),
)
