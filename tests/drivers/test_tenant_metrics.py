"""Metrics per tenant and the dashboard's tenant filter, on every driver.

Workers record one metrics row per job class, queue, tenant and minute; JobMetrics, queue:metrics
--tenant, the metrics API and pages (?tenant=) read one tenant's rows, and the pending and failed
job lists narrow to one tenant. Prometheus counters still add up every tenant's rows.
"""
from __future__ import annotations

import json

import pytest

from app.Jobs.MetricsCollector import JobMetrics
from app.Queue.QueueManager import manager
from config import env as env_mod
from tests.console.conftest import run_command
from tests.core_helpers import work
from tests.dashboard_support import client, empty_dashboard_tables
from tests.drivers.conftest import Backend
from tests.fixtures.jobs import FailingJob
from tests.fixtures.tenant_jobs import TenantRecordJob


@pytest.fixture
def ran(backend: Backend, monkeypatch, tmp_path):
    """Tenant A ran 3 jobs and failed 1, B ran 2, one job had no tenant; then A and B each left a job waiting."""
    if backend.name != "sqlite":
        monkeypatch.setenv("QUEUE_CONNECTION", backend.connection)
    env_mod.reload()
    qm = manager()
    qm.reset()
    empty_dashboard_tables()
    conn, w = backend.connection, str(tmp_path / "w")
    qm.bulk([TenantRecordJob(w, "a").for_tenant("A") for _ in range(3)], connection=conn)
    qm.bulk([TenantRecordJob(w, "b").for_tenant("B") for _ in range(2)], connection=conn)
    TenantRecordJob(w, "none").on_connection(conn).dispatch()
    FailingJob(w).for_tenant("A").on_connection(conn).dispatch()
    work(qm, ["default"], conn)
    waiting = {t: str(TenantRecordJob(w, "later").for_tenant(t).on_queue("later").on_connection(conn).dispatch())
               for t in ("A", "B")}
    return qm, conn, waiting


def test_metrics_are_recorded_and_read_per_tenant(ran):
    by_tenant = {t: {m.name: (m.processed, m.failed) for m in JobMetrics.all_job_metrics(None, t)} for t in ("A", "B", "")}
    assert by_tenant == {"A": {"TenantRecordJob": (3, 0), "FailingJob": (0, 1)}, "B": {"TenantRecordJob": (2, 0)},
                         "": {"TenantRecordJob": (1, 0)}}
    every = {m.name: (m.processed, m.failed) for m in JobMetrics.all_job_metrics()}
    assert every == {"TenantRecordJob": (6, 0), "FailingJob": (0, 1)}  # no tenant given: all rows
    assert JobMetrics.get_job_metrics("TenantRecordJob", tenant="B").count == 2

    shown = json.loads(run_command("queue:metrics", "--tenant=A --json").out)
    assert {m["name"]: m["count"] for m in shown} == {"TenantRecordJob": 3, "FailingJob": 1}
    unknown = run_command("queue:metrics", "--tenant=nobody")
    assert unknown.status == 1 and "unknown tenant 'nobody'" in unknown.err and len(unknown.err.strip().splitlines()) == 1


def test_dashboard_filters_metrics_and_job_lists_by_tenant(ran):
    qm, conn, waiting = ran
    c = client()
    jobs = {m["name"]: (m["count"], m["failed"]) for m in c.get("/horizon/api/metrics/jobs", params={"tenant": "A"}).json()}
    assert jobs == {"TenantRecordJob": (3, 0), "FailingJob": (1, 1)}
    queues = c.get("/horizon/api/metrics/queues", params={"tenant": "B"}).json()
    assert [(q["name"], q["count"]) for q in queues] == [("default", 2)]
    series = c.get("/horizon/api/metrics/jobs/TenantRecordJob", params={"tenant": "B"}).json()
    assert sum(p["count"] for p in series) == 2
    assert sum(p["count"] for p in c.get("/horizon/api/metrics/queues/default").json()) == 7  # unfiltered: all

    pending = c.get("/horizon/api/jobs/pending", params={"tenant": "B"}).json()
    assert [j["id"] for j in pending["items"]] == [waiting["B"]] and pending["total"] == 1
    assert c.get("/horizon/api/jobs/pending").json()["total"] == 2
    failed = c.get("/horizon/api/jobs/failed", params={"tenant": "A"}).json()
    assert failed["total"] == 1 and failed["items"][0]["name"] == "FailingJob"
    assert c.get("/horizon/api/jobs/failed", params={"tenant": "B"}).json()["total"] == 0
    refused = c.get("/horizon/api/jobs/completed", params={"tenant": "A"})
    assert refused.status_code == 400 and "tenant" in refused.json()["error"]
    assert c.get("/horizon/api/metrics/jobs", params={"tenant": "x" * 192}).status_code == 400

    page = c.get("/horizon/metrics", params={"tenant": "A"})
    assert page.status_code == 200 and "all jobs, tenant A" in page.text and 'name="tenant" value="A"' in page.text
    listing = c.get("/horizon/jobs/pending", params={"tenant": "B"})
    assert listing.status_code == 200 and waiting["B"] in listing.text and waiting["A"] not in listing.text

    # one metrics row per tenant of a minute: Prometheus adds them all up
    assert 'queue_jobs_processed_total{job="TenantRecordJob",queue="default"} 6.0' in c.get("/metrics").text
