"""create failed_jobs table

Revision ID: 0002_create_failed_jobs_table
Revises: 0001_create_jobs_table
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

# QUEUE_FAILED_TABLE names the table (default `failed_jobs`); tables.py resolves it for the code too.
from app.Queue.Database.tables import FAILED_AT_INDEX, FAILED_TABLE, FAILED_UUID_UNIQUE

revision = "0002_create_failed_jobs_table"
down_revision = "0001_create_jobs_table"
branch_labels = None
depends_on = None

LongText = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        FAILED_TABLE,
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("uuid", sa.String(64), nullable=False),
        sa.Column("connection", sa.String(191), nullable=False),
        sa.Column("queue", sa.String(191), nullable=False),
        sa.Column("payload", LongText, nullable=False),
        sa.Column("exception", LongText, nullable=False),
        sa.Column("failed_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("uuid", name=FAILED_UUID_UNIQUE),
    )
    op.create_index(FAILED_AT_INDEX, FAILED_TABLE, ["failed_at"])


def downgrade() -> None:
    op.drop_index(FAILED_AT_INDEX, table_name=FAILED_TABLE)
    op.drop_table(FAILED_TABLE)
