"""create job_batch_jobs table (per-member outcomes, so batch counters are idempotent)

Revision ID: 0005_create_job_batch_jobs_table
Revises: 0004_create_cache_tables
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_create_job_batch_jobs_table"
down_revision = "0004_create_cache_tables"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_batch_jobs",
        sa.Column("batch_id", sa.String(64), primary_key=True),
        sa.Column("member", sa.String(64), primary_key=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("job_uuid", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("job_batch_jobs")
