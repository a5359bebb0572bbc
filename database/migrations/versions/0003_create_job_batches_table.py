"""create job_batches table

Revision ID: 0003_create_job_batches_table
Revises: 0002_create_failed_jobs_table
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0003_create_job_batches_table"
down_revision = "0002_create_failed_jobs_table"
branch_labels = None
depends_on = None

LongText = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "job_batches",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(191), nullable=False),
        sa.Column("total_jobs", sa.Integer, nullable=False),
        sa.Column("pending_jobs", sa.Integer, nullable=False),
        sa.Column("failed_jobs", sa.Integer, nullable=False),
        sa.Column("failed_job_ids", LongText, nullable=False),
        sa.Column("options", LongText, nullable=True),
        sa.Column("cancelled_at", sa.BigInteger, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("finished_at", sa.BigInteger, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("job_batches")
