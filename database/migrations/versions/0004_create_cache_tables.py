"""create cache and cache_locks tables

Revision ID: 0004_create_cache_tables
Revises: 0003_create_job_batches_table
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0004_create_cache_tables"
down_revision = "0003_create_job_batches_table"
branch_labels = None
depends_on = None

LongText = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "cache",
        sa.Column("key", sa.String(191), primary_key=True),
        sa.Column("value", LongText, nullable=False),
        sa.Column("expiration", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_cache_expiration", "cache", ["expiration"])
    op.create_table(
        "cache_locks",
        sa.Column("key", sa.String(191), primary_key=True),
        sa.Column("owner", sa.String(191), nullable=False),
        sa.Column("expiration", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_cache_locks_expiration", "cache_locks", ["expiration"])


def downgrade() -> None:
    op.drop_index("ix_cache_locks_expiration", table_name="cache_locks")
    op.drop_table("cache_locks")
    op.drop_index("ix_cache_expiration", table_name="cache")
    op.drop_table("cache")
