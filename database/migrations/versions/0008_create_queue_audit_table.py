"""create queue_audit table

Revision ID: 0008_create_queue_audit_table
Revises: 0007_create_completed_jobs_table
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_create_queue_audit_table"
down_revision = "0007_create_completed_jobs_table"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "queue_audit",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("job_id", sa.String(64), nullable=True),
        sa.Column("job_class", sa.String(191), nullable=True),
        sa.Column("queue", sa.String(191), nullable=True),
        sa.Column("connection", sa.String(64), nullable=True),
        sa.Column("tenant", sa.String(191), nullable=True),
        sa.Column("attempt", sa.Integer, nullable=True),
        sa.Column("host", sa.String(191), nullable=False),
        sa.Column("actor", sa.String(191), nullable=False),
        sa.Column("detail", sa.String(191), nullable=True),
    )
    op.create_index("ix_queue_audit_at", "queue_audit", ["at"])
    op.create_index("ix_queue_audit_job_id", "queue_audit", ["job_id"])


def downgrade() -> None:
    op.drop_index("ix_queue_audit_job_id", table_name="queue_audit")
    op.drop_index("ix_queue_audit_at", table_name="queue_audit")
    op.drop_table("queue_audit")
