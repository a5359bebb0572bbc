"""tenant on job_metrics; queue_audit keeps exact times and drops its job_id index

Revision ID: 0009_tenant_metrics_audit
Revises: 0008_create_queue_audit_table

- job_metrics.tenant ('' = no tenant): metrics per tenant, one row per job class, queue, tenant
  and minute.
- queue_audit.at becomes a double: MariaDB's FLOAT (4 bytes) rounded unix times to minutes.
- queue_audit loses ix_queue_audit_job_id: random uuids made it most of the audit trail's cost
  (bench/audit_overhead.py); `queue:audit --job` scans.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_tenant_metrics_audit"
down_revision = "0008_create_queue_audit_table"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("job_metrics", sa.Column("tenant", sa.String(191), nullable=False, server_default=""))
    op.drop_index("uq_job_metrics_job_queue_bucket", table_name="job_metrics")
    op.create_index("uq_job_metrics_job_queue_tenant_bucket", "job_metrics", ["job", "queue", "tenant", "bucket"],
                    unique=True)
    op.drop_index("ix_queue_audit_job_id", table_name="queue_audit")
    if op.get_bind().dialect.name != "sqlite":  # SQLite stores both as REAL (8 bytes)
        op.alter_column("queue_audit", "at", type_=sa.Double(), existing_type=sa.Float(), existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("queue_audit", "at", type_=sa.Float(), existing_type=sa.Double(), existing_nullable=False)
    op.create_index("ix_queue_audit_job_id", "queue_audit", ["job_id"])
    op.execute("DELETE FROM job_metrics WHERE tenant <> ''")  # one row per (job, queue, minute) again
    op.drop_index("uq_job_metrics_job_queue_tenant_bucket", table_name="job_metrics")
    op.create_index("uq_job_metrics_job_queue_bucket", "job_metrics", ["job", "queue", "bucket"], unique=True)
    with op.batch_alter_table("job_metrics") as table:
        table.drop_column("tenant")
