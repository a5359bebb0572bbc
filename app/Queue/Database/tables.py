"""The queue's tables as SQLAlchemy Core; Alembic migrations mirror these.

The jobs and failed-jobs tables are named by QUEUE_JOBS_TABLE / QUEUE_FAILED_TABLE
(default `jobs` / `failed_jobs`; a RouteMQ deployment uses `queue_jobs` /
`queue_failed_jobs`), read once when the process starts. Their index names follow the
table name, so the defaults keep the names existing databases already have.
"""
from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text, text
from sqlalchemy.dialects import mysql

from config.database import table_name

JOBS_TABLE = table_name("QUEUE_JOBS_TABLE")
FAILED_TABLE = table_name("QUEUE_FAILED_TABLE")
CLAIM_INDEX = f"ix_{JOBS_TABLE}_queue_priority_id"
SIZES_INDEX = f"ix_{JOBS_TABLE}_queue_reserved_at_available_at"
FAILED_AT_INDEX = f"ix_{FAILED_TABLE}_failed_at"
FAILED_QUEUE_INDEX = f"ix_{FAILED_TABLE}_queue_connection"
FAILED_UUID_UNIQUE = f"uq_{FAILED_TABLE}_uuid"

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# MEDIUMTEXT on MySQL: TEXT caps at 64 KiB, too small for bulky payloads.
LongText = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
Id = BigInteger().with_variant(Integer(), "sqlite")

jobs = Table(
    JOBS_TABLE,
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("queue", String(191), nullable=False),
    Column("payload", LongText, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("priority", Integer, nullable=False, default=0),
    Column("reserved_at", BigInteger, nullable=True),
    Column("reserved_by", String(191), nullable=True),
    Column("available_at", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # Serves the claim query in index order: equality on queue, then priority DESC, id ASC
    # (an ascending priority column would make SQLite sort every candidate row per claim).
    Index(CLAIM_INDEX, "queue", text("priority DESC"), "id"),
    # Covers sizes() (pending / delayed / reserved counts) so monitoring reads no payloads.
    Index(SIZES_INDEX, "queue", "reserved_at", "available_at"),
)

failed_jobs = Table(
    FAILED_TABLE,
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("uuid", String(64), nullable=False, unique=True),
    Column("connection", String(191), nullable=False),
    Column("queue", String(191), nullable=False),
    Column("payload", LongText, nullable=False),
    Column("exception", LongText, nullable=False),
    Column("failed_at", BigInteger, nullable=False),
    Index(FAILED_AT_INDEX, "failed_at"),
    # Per-queue failed counts (queue:stats, the dashboard, /metrics) without reading the payloads.
    Index(FAILED_QUEUE_INDEX, "queue", "connection"),
)

job_batches = Table(
    "job_batches",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(191), nullable=False),
    Column("total_jobs", Integer, nullable=False),
    Column("pending_jobs", Integer, nullable=False),
    Column("failed_jobs", Integer, nullable=False),
    Column("failed_job_ids", LongText, nullable=False),
    Column("options", LongText, nullable=True),
    Column("cancelled_at", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger, nullable=True),
)

# One row per batch member (a job, or a chain counted as one job): its outcome, so a member
# that runs twice (lease expired, SIGKILL before ack) is counted once.
job_batch_jobs = Table(
    "job_batch_jobs",
    metadata,
    Column("batch_id", String(64), primary_key=True),
    Column("member", String(64), primary_key=True),
    Column("outcome", String(16), nullable=False),
    Column("job_uuid", String(64), nullable=False),
)

cache = Table(
    "cache",
    metadata,
    Column("key", String(191), primary_key=True),
    Column("value", LongText, nullable=False),
    Column("expiration", BigInteger, nullable=False),
    Index("ix_cache_expiration", "expiration"),
)

cache_locks = Table(
    "cache_locks",
    metadata,
    Column("key", String(191), primary_key=True),
    Column("owner", String(191), nullable=False),
    Column("expiration", BigInteger, nullable=False),
    Index("ix_cache_locks_expiration", "expiration"),
)

QUEUE_TABLES = (JOBS_TABLE, FAILED_TABLE, "job_batches", "job_batch_jobs", "cache", "cache_locks")
