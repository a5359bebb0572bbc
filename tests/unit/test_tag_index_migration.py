"""Migration 0010 creates job_tags and indexes the tags of failed jobs stored before it, so monitoring counts them."""
from __future__ import annotations

import json

from sqlalchemy import insert, select

from app.Horizon.SqlTagIndex import SqlTagIndex
from app.Horizon.tables import job_tags
from app.Queue.Database import migrator
from app.Queue.Database.tables import failed_jobs


def _failed(uuid: str, payload: str, at: int) -> dict[str, object]:
    return {"uuid": uuid, "connection": "database", "queue": "default", "payload": payload, "exception": "boom",
            "failed_at": at}


def test_upgrading_indexes_the_tags_of_failed_jobs_already_stored(queue_env):
    engine = queue_env.engine()
    migrator.downgrade(engine, "0009_tenant_metrics_audit")
    with engine.begin() as conn:
        conn.execute(insert(failed_jobs), [
            _failed("a", json.dumps({"uuid": "a", "tags": ["user:1", "vip", "vip"]}), 100),
            _failed("b", json.dumps({"uuid": "b", "tags": ["user:1", {"not": "a tag"}]}), 200),
            _failed("c", json.dumps({"uuid": "c"}), 300),
            _failed("d", "not json at all", 400),
        ])
    migrator.upgrade(engine)
    with engine.connect() as conn:
        rows = {(r.tag, r.job_id, r.at) for r in conn.execute(select(job_tags))}
    assert rows == {("user:1", "a", 100.0), ("vip", "a", 100.0), ("user:1", "b", 200.0)}
    index = SqlTagIndex(engine)
    assert index.count("user:1", "failed") == 2 and index.ids("user:1", "failed", 0, 10) == ["b", "a"]
    migrator.downgrade(engine, "0009_tenant_metrics_audit")
    migrator.upgrade(engine)  # down and up again: the table is rebuilt from failed_jobs
    assert index.count("vip", "failed") == 1
