"""The Metrics page's graphs from `horizon:snapshot` snapshots on every backend: real jobs, real snapshots, frozen time."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from freezegun import freeze_time

from app.Horizon.MetricsSnapshot import SNAPSHOTS_KEY
from tests.core_helpers import keep_signal_handlers, work  # noqa: F401 - fixture
from tests.dashboard_support import client, empty_dashboard_tables
from tests.drivers.conftest import Backend
from tests.fixtures.dashboard_jobs import AlwaysFailsJob, TaggedJob

T0 = "2026-03-02 09:00:00"


def _snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run `artisan horizon:snapshot` in this process (so the frozen clock is its clock)."""
    from app.Console.kernel import main

    monkeypatch.setattr(sys, "argv", ["artisan", "horizon:snapshot"])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 0


def test_metrics_graphs_plot_one_point_per_snapshot_per_job_and_queue(backend: Backend, witness: Path,
                                                                       monkeypatch: pytest.MonkeyPatch):
    qm, conn = backend.manager, backend.connection
    empty_dashboard_tables()
    qm.cache.forget(SNAPSHOTS_KEY)
    c = client()
    page = c.get("/horizon/metrics")
    assert page.status_code == 200 and "No snapshots yet" in page.text

    with freeze_time(T0, tick=True) as frozen:  # ticking: the jobs' run times are real
        for n in range(3):
            TaggedJob(str(witness), n).on_connection(conn).dispatch()
        work(qm, connection=conn)
        frozen.tick(300)
        _snapshot(monkeypatch)  # 3 jobs in the 5 minutes before it
        first_at = frozen().timestamp()
        for n in range(6):
            TaggedJob(str(witness), n).on_connection(conn).dispatch()
        AlwaysFailsJob(str(witness), 1).on_connection(conn).dispatch()
        work(qm, connection=conn)
        frozen.tick(300)
        _snapshot(monkeypatch)  # 6 completed and 1 failed since the first
        second_at = frozen().timestamp()

    tagged = c.get("/horizon/api/metrics/snapshots/jobs/TaggedJob").json()
    assert [p["t"] for p in tagged] == [pytest.approx(first_at, abs=1), pytest.approx(second_at, abs=1)]
    assert [p["throughput"] for p in tagged] == [0.6, pytest.approx(1.2, rel=0.05)]  # the 2nd covers ~300 s
    assert all(0 < p["p50"] <= p["p95"] for p in tagged)
    assert [p["throughput"] for p in c.get("/horizon/api/metrics/snapshots/jobs/AlwaysFailsJob").json()] == [0.0, pytest.approx(0.2, rel=0.05)]
    queue = c.get("/horizon/api/metrics/snapshots/queues/default").json()
    assert [p["throughput"] for p in queue] == [0.6, pytest.approx(1.4, rel=0.05)]
    assert c.get(f"/horizon/api/metrics/snapshots/queues/{conn}:default").json() == queue
    assert [p["throughput"] for p in c.get("/horizon/api/metrics/snapshots/queues/nothing").json()] == [0.0, 0.0]

    overview = c.get("/horizon/api/metrics/snapshots").json()
    assert {j["name"]: j["throughput"] for j in overview["jobs"]} == {"TaggedJob": pytest.approx(1.2, rel=0.05),
                                                                      "AlwaysFailsJob": pytest.approx(0.2, rel=0.05)}
    assert [q["name"] for q in overview["queues"]] == [f"{conn}:default"] and len(overview["series"]) == 2

    for url in ("/horizon/metrics?job=TaggedJob", "/horizon/metrics?queue=default", "/horizon/metrics"):
        html = c.get(url).text
        assert "2 snapshots" in html and "Jobs per minute, per snapshot" in html and "<polyline" in html, url
