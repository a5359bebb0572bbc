"""create job_metrics table

Revision ID: 0006_create_job_metrics_table
Revises: 0005_create_job_batch_jobs_table
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_create_job_metrics_table"
down_revision = "0005_create_job_batch_jobs_table"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "job_metrics",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("job", sa.String(191), nullable=False),
        sa.Column("queue", sa.String(191), nullable=False),
        sa.Column("bucket", sa.BigInteger, nullable=False),
        sa.Column("processed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("failed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("total_time", sa.Float, nullable=False, server_default="0"),
        sa.Column("max_time", sa.Float, nullable=False, server_default="0"),
        sa.Column("histogram", sa.Text, nullable=False),
    )
    op.create_index("uq_job_metrics_job_queue_bucket", "job_metrics", ["job", "queue", "bucket"], unique=True)
    op.create_index("ix_job_metrics_bucket", "job_metrics", ["bucket"])


def downgrade() -> None:
    op.drop_index("ix_job_metrics_bucket", table_name="job_metrics")
    op.drop_index("uq_job_metrics_job_queue_bucket", table_name="job_metrics")
    op.drop_table("job_metrics")
