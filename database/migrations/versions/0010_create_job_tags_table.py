"""create job_tags table (the dashboard's per-tag index) and fill it from the failed jobs already stored

Revision ID: 0010_create_job_tags_table
Revises: 0009_tenant_metrics_audit
"""
from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from app.Queue.Database.tables import FAILED_TABLE

revision = "0010_create_job_tags_table"
down_revision = "0009_tenant_metrics_audit"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
CHUNK = 2000


def _tags(payload: str) -> list[str]:
    """The envelope's tags (untrusted text: anything unreadable has none)."""
    try:
        tags = json.loads(payload).get("tags")
    except (ValueError, AttributeError):
        return []
    return [str(t)[:191] for t in tags if isinstance(t, (str, int, float))] if isinstance(tags, list) else []


def _backfill(job_tags: sa.Table) -> None:
    """Index the tags of the failed jobs stored before this table existed."""
    failed = sa.table(FAILED_TABLE, sa.column("id"), sa.column("uuid"), sa.column("payload"), sa.column("failed_at"))
    conn, after = op.get_bind(), 0
    while True:
        rows = conn.execute(sa.select(failed.c.id, failed.c.uuid, failed.c.payload, failed.c.failed_at)
                            .where(failed.c.id > after).order_by(failed.c.id).limit(CHUNK)).all()
        if not rows:
            return
        entries = [{"tag": tag, "kind": "failed", "job_id": str(r.uuid)[:64], "at": float(r.failed_at or 0)}
                   for r in rows for tag in dict.fromkeys(_tags(str(r.payload)))]
        if entries:
            conn.execute(job_tags.insert(), entries)
        after = int(rows[-1].id)


def upgrade() -> None:
    job_tags = op.create_table(
        "job_tags",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("tag", sa.String(191), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("at", sa.Double, nullable=False),
    )
    op.create_index("ix_job_tags_tag_kind_at", "job_tags", ["tag", "kind", "at"])
    op.create_index("ix_job_tags_at", "job_tags", ["at"])
    assert job_tags is not None
    _backfill(job_tags)


def downgrade() -> None:
    op.drop_index("ix_job_tags_at", table_name="job_tags")
    op.drop_index("ix_job_tags_tag_kind_at", table_name="job_tags")
    op.drop_table("job_tags")
