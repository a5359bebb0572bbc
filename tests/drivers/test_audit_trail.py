"""The audit trail: lifecycle events and operator actions, in the table or the Redis stream, no payload data."""
from __future__ import annotations

import json

import pytest

from freezegun import freeze_time

from app.Audit.AuditTrail import flush, make_store
from app.Audit.AuditStores import RedisAuditStore
from app.Audit.DatabaseAuditStore import DatabaseAuditStore
from app.Jobs.Batch import batch
from app.Models.JobBatch import JobBatch
from tests.console.conftest import run_command
from tests.core_helpers import keep_signal_handlers, work  # noqa: F401 (autouse fixture)
from tests.drivers.audit_support import trail_noting_waits
from tests.drivers.conftest import Backend
from tests.fixtures.batch_jobs import Work
from tests.fixtures.feature_jobs import SecretJob
from tests.fixtures.jobs import FailingJob, RecordJob

SECRET = "tok-9f8e7d-never-in-the-audit"


@pytest.fixture(autouse=True)
def empty_audit(backend: Backend):
    """The session's MariaDB keeps its tables between tests: start each test with an empty trail."""
    make_store(backend.manager).prune(4e9)


def _events(backend: Backend, job_id: str) -> list[tuple[str, int | None]]:
    flush(backend.manager)
    return [(e.event, e.attempt) for e in make_store(backend.manager).query(job=job_id, limit=0)]


def test_lifecycle_events_are_recorded_with_who_where_and_no_payload(backend: Backend, tmp_path, monkeypatch):
    monkeypatch.setenv("QUEUE_AUDIT_ACTOR", "deploy-bot")
    qm, conn = backend.manager, backend.connection
    qm.reset()
    ok = RecordJob(str(tmp_path / "w"), SECRET).on_connection(conn).dispatch()
    bad = FailingJob(str(tmp_path / "w"), SECRET).on_connection(conn).dispatch()
    hidden = SecretJob(str(tmp_path / "w"), SECRET).on_connection(conn).dispatch()
    work(qm, ["default"], conn)
    assert _events(backend, ok) == [("dispatched", None), ("started", 1)]
    assert _events(backend, bad) == [("dispatched", None), ("started", 1), ("released", 1), ("started", 2),
                                     ("released", 2), ("started", 3), ("failed", 3)]
    assert _events(backend, hidden) == [("dispatched", None), ("started", 1)]
    entries = make_store(qm).query(limit=0)
    failed = [e for e in entries if e.event == "failed"][0]
    assert (failed.job_class, failed.queue, failed.connection, failed.detail, failed.actor) == (
        "FailingJob", "default", conn, "RuntimeError", "deploy-bot")
    assert failed.host and all(e.at > 0 for e in entries)
    assert SECRET not in json.dumps([e.as_dict() for e in entries])  # no job data, encrypted or not
    expected = RedisAuditStore if backend.name == "redis" else DatabaseAuditStore
    assert isinstance(make_store(qm), expected)


def test_operator_actions_name_the_command_and_the_job(backend: Backend, tmp_path, monkeypatch):
    qm, conn = backend.manager, backend.connection
    monkeypatch.setenv("QUEUE_AUDIT_ACTOR", "alice")
    bad = FailingJob(str(tmp_path / "w")).on_connection(conn).dispatch()
    other = FailingJob(str(tmp_path / "w")).on_connection(conn).dispatch()
    work(qm, ["default"], conn)
    assert run_command("queue:retry", bad).status == 0
    assert run_command("queue:forget", other).status == 0
    RecordJob(str(tmp_path / "w")).on_connection(conn).on_queue("mail").dispatch()
    assert run_command("queue:clear", f"{conn} --queue=mail --force").status == 0
    batch_id = batch([Work(str(tmp_path / "w"), "m")]).on_connection(conn).on_queue("b").dispatch()
    JobBatch.find(batch_id).cancel()
    flush(qm)
    actions = [(e.event, e.job_id, e.queue, e.detail, e.actor) for e in make_store(qm).query(limit=0)
               if e.event in ("retried", "forgotten", "cleared", "batch_cancelled")]
    assert actions == [("retried", bad, "default", None, "alice"), ("forgotten", other, "default", None, "alice"),
                       ("cleared", None, "mail", "1", "alice"), ("batch_cancelled", None, "b", batch_id, "alice")]


def test_forgetting_a_failed_job_on_the_dashboard_is_audited(backend: Backend, tmp_path, monkeypatch):
    from tests.dashboard_support import client, csrf

    qm, conn = backend.manager, backend.connection
    monkeypatch.setenv("QUEUE_AUDIT_ACTOR", "bob")
    failed = FailingJob(str(tmp_path / "w")).on_connection(conn).dispatch()
    work(qm, ["default"], conn)
    c = client()
    assert c.post(f"/horizon/api/jobs/failed/{failed}/forget", headers=csrf(c)).status_code == 200
    flush(qm)
    forgotten = [(e.job_id, e.job_class, e.queue, e.actor) for e in make_store(qm).query(limit=0) if e.event == "forgotten"]
    assert forgotten == [(failed, "FailingJob", "default", "bob")]


def test_queue_audit_filters_by_job_tenant_and_time_and_prints_json(backend: Backend, tmp_path):
    qm, conn = backend.manager, backend.connection
    with freeze_time("2030-01-01 10:00:00") as clock:
        old = RecordJob(str(tmp_path / "w")).on_connection(conn).dispatch()
        flush(qm)
        clock.move_to("2030-01-01 12:00:00")
        new = RecordJob(str(tmp_path / "w")).on_connection(conn).dispatch()
        flush(qm)
        ran = run_command("queue:audit", "--json --since=1h")
        assert ran.status == 0
        assert [e["job_id"] for e in json.loads(ran.out)] == [new]
        assert [e["job_id"] for e in json.loads(run_command("queue:audit", f"--json --job={old}").out)] == [old]
        assert json.loads(run_command("queue:audit", "--json --tenant=acme").out) == []
        table = run_command("queue:audit", "--since=2030-01-01T09:00").out
        assert old in table and new in table and "dispatched" in table
    bad = run_command("queue:audit", "--since=yesterday")
    assert bad.status == 1 and "--since must look like" in bad.err


def test_the_redis_stream_is_capped(backend: Backend, monkeypatch):
    if backend.name != "redis":
        return
    monkeypatch.setenv("QUEUE_AUDIT_STREAM_MAX", "100")
    from config import env as env_mod

    env_mod.reload()
    backend.manager.reset()
    from app.Audit.AuditEntry import entry

    store = make_store(backend.manager)
    store.append_many([entry("dispatched", {"uuid": str(i)}) for i in range(2000)])
    assert store.client.xlen(store.key) < 400  # XADD MAXLEN ~ trims whole nodes: about the cap, never unbounded


def test_a_batch_larger_than_one_insert_is_written_whole_and_in_order(backend: Backend):
    from app.Audit.AuditEntry import AuditEntry

    store = make_store(backend.manager)
    written = [AuditEntry("started", f"job-{i}", "X", "default", backend.connection, "t" if i % 2 else None, 1,
                          1_800_000_000.0 + i, "host", "actor") for i in range(250)]  # SQLite: 90 rows an INSERT
    store.append_many(written)
    assert store.query(limit=0) == written


def test_a_bulk_dispatch_writes_one_dispatched_entry_per_job_in_order_and_other_listeners_still_hear_each(
        backend: Backend, tmp_path):
    from app.Queue.events import JobQueued

    qm, conn = backend.manager, backend.connection
    heard: list[str] = []
    qm.events.listen(JobQueued, lambda event: heard.append(event.uuid))
    jobs = [RecordJob(str(tmp_path / "w"), SECRET) for _ in range(7)]
    jobs[2].for_tenant("acme")
    jobs[5].on_queue("mail")
    ids = qm.bulk(jobs, connection=conn)
    flush(qm)
    entries = [e for e in make_store(qm).query(limit=0) if e.event == "dispatched"]
    assert [e.job_id for e in entries] == ids == heard
    assert [(e.job_class, e.connection, e.attempt) for e in entries] == [("RecordJob", conn, None)] * 7
    assert [e.queue for e in entries] == ["default"] * 5 + ["mail", "default"]
    assert [e.tenant for e in entries] == [None, None, "acme", None, None, None, None]
    assert SECRET not in json.dumps([e.as_dict() for e in entries])


def test_a_bulk_flush_does_not_wait_for_the_store_and_flush_waits_for_what_it_sent(backend: Backend, tmp_path,
                                                                                    monkeypatch):
    from app.Audit import AuditTrail as trail_module

    qm, conn = backend.manager, backend.connection
    trail, waits = trail_noting_waits(qm, monkeypatch, 10)
    ids = qm.bulk([RecordJob(str(tmp_path / "w")) for _ in range(25)], connection=conn)
    assert waits == [False] and trail._buffer == []  # written by the bulk itself, without waiting
    trail_module.flush(qm)  # waits for the append sent before: a new store's read sees every entry
    assert [e.job_id for e in make_store(qm).query(limit=0) if e.event == "dispatched"] == ids
