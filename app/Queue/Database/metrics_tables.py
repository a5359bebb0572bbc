"""The `job_metrics` table: per job class, queue, tenant and minute, counts, run time and a duration histogram."""
from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Index, Integer, String, Table, Text

from app.Queue.Database.tables import Id, metadata

job_metrics = Table(
    "job_metrics",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("job", String(191), nullable=False),
    Column("queue", String(191), nullable=False),
    Column("tenant", String(191), nullable=False, default="", server_default=""),  # '' = no tenant (app/Tenancy)
    Column("bucket", BigInteger, nullable=False),  # unix seconds at the start of the minute
    Column("processed", Integer, nullable=False, default=0),
    Column("failed", Integer, nullable=False, default=0),
    Column("total_time", Float, nullable=False, default=0.0),
    Column("max_time", Float, nullable=False, default=0.0),
    Column("histogram", Text, nullable=False),  # JSON {bin: count}, see app/Jobs/MetricsStore.py
    Index("uq_job_metrics_job_queue_tenant_bucket", "job", "queue", "tenant", "bucket", unique=True),
    Index("ix_job_metrics_bucket", "bucket"),
)
