"""Tenant-scoped commands on every driver: queue:stats/clear/failed/retry --tenant, queue:forget-tenant,
and an unknown tenant refused with one line."""
from __future__ import annotations

import json

import pytest

from app.Audit.AuditTrail import flush, make_store
from app.Jobs.MetricsStore import MetricsStore, Sample, minute_of
from app.Queue.Support.time import now
from app.Queue.QueueManager import manager
from config import env as env_mod
from tests.console.conftest import run_command
from tests.drivers.conftest import Backend
from tests.fixtures.tenant_jobs import TenantRecordJob


@pytest.fixture
def tenants(backend: Backend, monkeypatch, tmp_path):
    """Tenant A and B jobs on a fair queue (default) and a plain one (mail), plus one failed job each."""
    monkeypatch.setenv("QUEUE_FAIR_QUEUES", "default")
    if backend.name != "sqlite":
        monkeypatch.setenv("QUEUE_CONNECTION", backend.connection)
    env_mod.reload()
    qm = manager()
    qm.reset()
    make_store(qm).prune(4e9)
    conn = backend.connection
    w = str(tmp_path / "w")
    qm.bulk([TenantRecordJob(w, "a").for_tenant("A") for _ in range(3)], connection=conn)
    qm.bulk([TenantRecordJob(w, "a").for_tenant("A").on_queue("mail") for _ in range(2)], connection=conn)
    TenantRecordJob(w, "a-later").for_tenant("A").on_queue("mail").delay(600).on_connection(conn).dispatch()
    qm.bulk([TenantRecordJob(w, "b").for_tenant("B") for _ in range(2)], connection=conn)
    TenantRecordJob(w, "b").for_tenant("B").on_queue("mail").on_connection(conn).dispatch()
    for tenant in ("A", "B"):
        job = TenantRecordJob(w, "f").for_tenant(tenant)
        job._payload_extra()
        job_uuid, payload = qm.codec.create(job, "mail", conn, {"tenant": tenant})
        qm.failed.log(conn, "mail", payload, "RuntimeError: x", job_uuid)
    flush(qm)
    return qm, conn


def test_stats_failed_clear_and_retry_scoped_to_a_tenant(tenants):
    qm, conn = tenants
    stats = json.loads(run_command("queue:stats", f"{conn} --tenant=A --queue=default,mail --json").out)
    counts = {r["queue"]: (r["pending"], r["delayed"], r["failed"]) for r in stats["queues"]}
    assert counts == {"default": (3, 0, 0), "mail": (2, 1, 1)}
    failed = json.loads(run_command("queue:failed", "--tenant=B --json").out)
    assert len(failed) == 1 and failed[0]["queue"] == "mail"
    ran = run_command("queue:clear", f"{conn} --queue=mail --tenant=A --force")
    assert ran.status == 0 and "Cleared 3 job(s) of tenant [A]" in ran.out
    assert qm.connection(conn).sizes("mail").total == 1  # B's mail job stays
    assert qm.connection(conn).sizes("default").total == 5
    assert run_command("queue:retry", "--tenant=B").status == 0
    assert [json.loads(r.payload)["tenant"] for r in qm.failed.all()] == ["A"]
    assert qm.connection(conn).sizes("mail").total == 2


def test_forget_tenant_erases_its_jobs_failed_jobs_and_audit_entries_and_says_so(tenants):
    qm, conn = tenants
    audit_a = len(make_store(qm).query(tenant="A", limit=0))
    assert audit_a == 6
    metrics = MetricsStore(qm.engine())
    metrics.prune(4e9)
    at = minute_of(now()) + 1.0  # one minute for every sample
    metrics.record([Sample("TenantRecordJob", "default", 0.1, True, at, t) for t in ("A", "A", "B", "")])
    ran = run_command("queue:forget-tenant", f"A --connection={conn} --force")
    assert ran.status == 0, ran.err
    assert "metrics rows: 1 removed" in ran.out  # A's two samples share one minute row
    assert {t: metrics.summary(0, tenant=t).processed for t in ("A", "B", "")} == {"A": 0, "B": 1, "": 1}
    assert f"jobs on [{conn}]: 6 removed" in ran.out
    assert "failed jobs: 1 removed" in ran.out and f"audit entries: {audit_a} removed" in ran.out
    driver = qm.connection(conn)
    assert (driver.sizes("default").total, driver.sizes("mail").total) == (2, 1)
    assert [json.loads(r.payload)["tenant"] for r in qm.failed.all()] == ["B"]
    flush(qm)
    assert make_store(qm).query(tenant="A", limit=0) == []
    assert len(make_store(qm).query(tenant="B", limit=0)) == 3
    erased = [e for e in make_store(qm).query(limit=0) if e.event == "tenant_forgotten"]
    assert len(erased) == 1 and erased[0].tenant is None


def test_flush_of_one_tenant_deletes_only_its_failed_jobs_and_is_audited(tenants):
    qm, conn = tenants
    ran = run_command("queue:flush", "--tenant=B")
    assert ran.status == 0 and "Deleted 1 failed job(s) of tenant [B]" in ran.out, ran.err
    assert [json.loads(r.payload)["tenant"] for r in qm.failed.all()] == ["A"]
    assert run_command("queue:flush", "--tenant=A --hours=1").out.strip() == "Deleted 0 failed job(s) older than 1 hours of tenant [A]."
    flush(qm)
    flushed = [e for e in make_store(qm).query(limit=0) if e.event == "forgotten"]
    assert [(e.tenant, e.detail) for e in flushed] == [
        ("B", "1 failed jobs (queue:flush of tenant [B])"), ("A", "0 failed jobs (queue:flush older than 1 hours of tenant [A])")]


@pytest.mark.parametrize("command", ["queue:forget-tenant nobody --force", "queue:stats --tenant=nobody",
                                     "queue:clear --tenant=nobody --force", "queue:failed --tenant=nobody",
                                     "queue:retry --tenant=nobody", "queue:flush --tenant=nobody",
                                     "queue:metrics --tenant=nobody"])
def test_an_unknown_tenant_is_one_line_and_changes_nothing(tenants, command):
    qm, conn = tenants
    before = qm.connection(conn).sizes("default").total, len(qm.failed.ids())
    ran = run_command(*command.split(" ", 1))
    assert ran.status == 1 and "unknown tenant 'nobody'" in ran.err and len(ran.err.strip().splitlines()) == 1
    assert (qm.connection(conn).sizes("default").total, len(qm.failed.ids())) == before


def test_export_of_one_tenant_holds_only_its_jobs_and_failed_jobs(tenants):
    import io

    from app.Queue.Backup.Export import export

    qm, conn = tenants
    out = io.StringIO()
    counts = export(qm, conn, out, tenant="A", include_failed=True)
    assert counts == {"job": 6, "failed": 1, "batch": 0}
    records = [json.loads(line) for line in out.getvalue().splitlines()[1:-1]]
    assert {json.loads(r["payload"])["tenant"] for r in records} == {"A"}
    from app.Queue.Backup.Export import import_keys
    from app.Queue.Backup.Restore import restore
    from app.Queue.Backup.SignedLines import read_verified

    assert run_command("queue:forget-tenant", f"A --connection={conn} --force").status == 0
    report = restore(qm, read_verified(io.StringIO(out.getvalue()), import_keys()), conn)
    assert (report.jobs, report.failed) == (6, 1)
    driver = qm.connection(conn)
    assert driver.sizes("default@A").pending == 3 and driver.sizes("default").total == 5  # back in A's fair share
