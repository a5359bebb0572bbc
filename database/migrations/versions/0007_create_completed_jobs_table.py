"""create completed_jobs table (the dashboard's recently completed jobs); index failed_jobs by queue

Revision ID: 0007_create_completed_jobs_table
Revises: 0006_create_job_metrics_table
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from app.Queue.Database.tables import FAILED_QUEUE_INDEX, FAILED_TABLE

revision = "0007_create_completed_jobs_table"
down_revision = "0006_create_job_metrics_table"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
LongText = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "completed_jobs",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("first_at", sa.Double, nullable=False),
        sa.Column("last_at", sa.Double, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("jobs", LongText, nullable=False),
    )
    op.create_index("ix_completed_jobs_last_at", "completed_jobs", ["last_at"])
    op.create_index(FAILED_QUEUE_INDEX, FAILED_TABLE, ["queue", "connection"])


def downgrade() -> None:
    op.drop_index(FAILED_QUEUE_INDEX, table_name=FAILED_TABLE)
    op.drop_index("ix_completed_jobs_last_at", table_name="completed_jobs")
    op.drop_table("completed_jobs")
