"""create jobs table

Revision ID: 0001_create_jobs_table
Revises:
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

# QUEUE_JOBS_TABLE names the table (default `jobs`); tables.py resolves it for the code too.
from app.Queue.Database.tables import CLAIM_INDEX, JOBS_TABLE, SIZES_INDEX

revision = "0001_create_jobs_table"
down_revision = None
branch_labels = None
depends_on = None

LongText = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        JOBS_TABLE,
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("queue", sa.String(191), nullable=False),
        sa.Column("payload", LongText, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("priority", sa.Integer, nullable=False, server_default="0"),
        sa.Column("reserved_at", sa.BigInteger, nullable=True),
        sa.Column("reserved_by", sa.String(191), nullable=True),
        sa.Column("available_at", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    # priority DESC so the claim query (ORDER BY priority DESC, id) walks the index without sorting.
    op.create_index(CLAIM_INDEX, JOBS_TABLE, ["queue", sa.text("priority DESC"), "id"])
    # Covers the sizes() counts, so monitoring and max-size checks read no payloads.
    op.create_index(SIZES_INDEX, JOBS_TABLE, ["queue", "reserved_at", "available_at"])


def downgrade() -> None:
    op.drop_index(SIZES_INDEX, table_name=JOBS_TABLE)
    op.drop_index(CLAIM_INDEX, table_name=JOBS_TABLE)
    op.drop_table(JOBS_TABLE)
