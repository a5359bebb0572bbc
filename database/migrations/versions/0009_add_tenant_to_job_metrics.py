"""add tenant to job_metrics (metrics per tenant; '' = no tenant)

Revision ID: 0009_add_tenant_to_job_metrics
Revises: 0008_create_queue_audit_table
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_add_tenant_to_job_metrics"
down_revision = "0008_create_queue_audit_table"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("job_metrics", sa.Column("tenant", sa.String(191), nullable=False, server_default=""))
    op.drop_index("uq_job_metrics_job_queue_bucket", table_name="job_metrics")
    op.create_index("uq_job_metrics_job_queue_tenant_bucket", "job_metrics", ["job", "queue", "tenant", "bucket"],
                    unique=True)


def downgrade() -> None:
    op.execute("DELETE FROM job_metrics WHERE tenant <> ''")  # one row per (job, queue, minute) again
    op.drop_index("uq_job_metrics_job_queue_tenant_bucket", table_name="job_metrics")
    op.create_index("uq_job_metrics_job_queue_bucket", "job_metrics", ["job", "queue", "bucket"], unique=True)
    with op.batch_alter_table("job_metrics") as table:
        table.drop_column("tenant")
