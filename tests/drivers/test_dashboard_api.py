"""The dashboard's JSON API and pages on every backend, over a store filled by a real worker process."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.dashboard_support import CARD, SECRET, client, csrf, seed, stop_worker
from tests.drivers.conftest import Backend
from tests.support import wait_until


@pytest.fixture
def seeded(backend: Backend, tmp_path: Path):
    s, worker = seed(backend.connection, tmp_path, backend.env)
    yield s
    stop_worker(worker)


def test_lists_details_and_metrics_show_what_the_workers_did(backend: Backend, seeded):
    c = client()
    conn = backend.connection

    # the worker's metrics reach job_metrics at its next flush (about a second; longer on a loaded machine)
    assert wait_until(lambda: c.get("/horizon/api/stats").json()["processed_last_hour"] >= 7, timeout=30)
    stats = c.get("/horizon/api/stats").json()
    assert stats["status"] == "running" and stats["processes"] == 1
    assert stats["failed_last_hour"] == 3 and stats["processed_last_hour"] >= 7
    assert stats["pending"] == 3 and stats["delayed"] == 1

    workload = {r["queue"]: r for r in c.get("/horizon/api/workload").json()}
    assert (workload["later"]["pending"], workload["later"]["delayed"], workload["later"]["processes"]) == (3, 1, 0)
    assert workload["default"]["processes"] == 1 and workload["later"]["connection"] == conn

    completed = c.get("/horizon/api/jobs/completed").json()
    assert set(seeded.completed) <= {j["id"] for j in completed["items"]}
    tagged = c.get("/horizon/api/jobs/completed", params={"tag": "user:1"}).json()["items"]
    assert [j["id"] for j in tagged] == [seeded.completed[1]]
    assert tagged[0]["tags"] == ["user:1", "<script>alert(1)</script>"]
    assert {j["name"] for j in c.get("/horizon/api/jobs/completed", params={"job": "CardJob"}).json()["items"]} == {"CardJob"}
    assert c.get("/horizon/api/jobs/completed", params={"id": seeded.completed[0]}).json()["total"] == 1

    failed = c.get("/horizon/api/jobs/failed").json()
    assert failed["total"] == 3
    assert {j["name"] for j in failed["items"]} == {"AlwaysFailsJob", "FlakyJob", "BatchPart"}
    assert c.get("/horizon/api/jobs/failed", params={"tag": "failing"}).json()["items"][0]["id"] == seeded.failed["AlwaysFailsJob"]

    detail = c.get(f"/horizon/api/jobs/{seeded.failed['AlwaysFailsJob']}").json()
    assert detail["status"] == "failed" and detail["queue"] == "default" and detail["data"]["n"] == 7
    assert "Traceback" in detail["exception"] and "ValueError: always fails 7" in detail["exception"]

    pending = c.get("/horizon/api/jobs/pending", params={"queue": "later"}).json()
    assert {j["id"] for j in pending["items"]} == {*seeded.pending, seeded.delayed}
    assert {j["status"] for j in pending["items"] if j["id"] == seeded.delayed} == {"delayed"}
    assert c.get("/horizon/api/jobs/pending", params={"tag": "waiting"}).json()["total"] == 2

    # encrypted and sensitive data are shown as such, never decrypted: not in any answer
    vault_done = c.get(f"/horizon/api/jobs/{seeded.vault}").json()
    assert vault_done["status"] == "completed" and vault_done["data"] == "[encrypted]"
    vault_waiting = c.get(f"/horizon/api/jobs/{seeded.pending[2]}").json()
    assert vault_waiting["status"] == "pending" and vault_waiting["data"] == "[encrypted]" and vault_waiting["encrypted"]
    card = c.get(f"/horizon/api/jobs/{seeded.card}").json()
    assert card["data"]["order"] == "order-1" and card["data"]["card"] == "[sensitive]"
    for url in ("/horizon/api/jobs/completed", "/horizon/api/jobs/pending", f"/horizon/api/jobs/{seeded.vault}",
                f"/horizon/api/jobs/{seeded.pending[2]}", f"/horizon/api/jobs/{seeded.card}", "/horizon/jobs/completed",
                f"/horizon/jobs/{seeded.vault}", f"/horizon/jobs/{seeded.card}", f"/horizon/jobs/{seeded.pending[2]}"):
        body = c.get(url).text
        assert SECRET not in body and CARD not in body, url

    batch = c.get(f"/horizon/api/batches/{seeded.batch_id}").json()
    assert (batch["name"], batch["total_jobs"], batch["failed_jobs"], batch["processed_jobs"]) == ("nightly-import", 3, 1, 2)
    assert batch["failed_job_ids"][0] in {j["id"] for j in failed["items"]}
    assert c.get("/horizon/api/batches").json()["items"][0]["id"] == seeded.batch_id

    masters = c.get("/horizon/api/masters").json()
    process = masters["hosts"][0]["masters"][0]["supervisors"][0]["processes"][0]
    assert process["connection"] == conn and process["pid"] and process["memory_mb"] > 0 and process["heartbeat_age"] < 15

    jobs = {m["name"]: m for m in c.get("/horizon/api/metrics/jobs").json()}
    assert jobs["TaggedJob"]["count"] == 3 and jobs["AlwaysFailsJob"]["failed"] == 1
    series = c.get("/horizon/api/metrics/jobs/TaggedJob").json()
    assert len(series) == 60 and sum(p["count"] for p in series) == 3 and max(p["p95"] for p in series) > 0
    assert sum(p["count"] for p in c.get("/horizon/api/metrics/queues/default").json()) >= 10

    metrics = c.get("/metrics").text
    assert f'queue_jobs_pending{{connection="{conn}",queue="later"}} 3.0' in metrics
    assert f'queue_jobs_delayed{{connection="{conn}",queue="later"}} 1.0' in metrics
    assert f'queue_workers{{connection="{conn}",queue="default"}} 1.0' in metrics
    assert 'queue_jobs_processed_total{job="TaggedJob",queue="default"} 3.0' in metrics
    assert 'queue_jobs_failed_total{job="AlwaysFailsJob",queue="default"} 1.0' in metrics
    assert 'queue_job_runtime_seconds_count{job="TaggedJob",queue="default"} 3.0' in metrics
    assert f'queue_jobs_failed{{connection="{conn}",queue="default"}} 3.0' in metrics

    for page in ("/horizon", "/horizon/workload", "/horizon/monitoring?tag=user:1", "/horizon/metrics?job=TaggedJob",
                 "/horizon/batches", f"/horizon/batches/{seeded.batch_id}", "/horizon/jobs/pending",
                 "/horizon/jobs/completed", "/horizon/jobs/failed", "/horizon/supervisors",
                 f"/horizon/jobs/{seeded.failed['AlwaysFailsJob']}"):
        response = c.get(page)
        assert response.status_code == 200, page
        assert "<script>alert(1)" not in response.text, page


def test_retry_forget_batch_actions_and_monitoring(backend: Backend, seeded, tmp_path: Path):
    c = client()
    headers = csrf(c)
    flaky = seeded.failed["FlakyJob"]
    assert c.post("/horizon/api/monitoring", json={"tag": "failing"}, headers=headers).json() == {"monitored": ["failing"]}
    assert c.get("/horizon/api/monitoring").json() == [{"tag": "failing", "completed": 0, "failed": 1}]

    assert c.post(f"/horizon/api/jobs/failed/{flaky}/retry").status_code == 403  # no CSRF token
    assert c.post(f"/horizon/api/jobs/failed/{flaky}/retry", headers=headers).json() == {"retried": 1, "missing": []}
    assert wait_until(lambda: c.get(f"/horizon/api/jobs/{flaky}").json().get("status") == "completed", timeout=45)
    assert c.get("/horizon/api/jobs/failed", params={"id": flaky}).json()["total"] == 0

    always = seeded.failed["AlwaysFailsJob"]
    result = c.post("/horizon/api/jobs/failed/retry", json={"ids": [always, "no-such-id"]}, headers=headers).json()
    assert result == {"retried": 1, "missing": ["no-such-id"]}
    assert wait_until(lambda: c.get("/horizon/api/jobs/failed", params={"id": always}).json()["total"] == 1, timeout=45)
    assert c.post(f"/horizon/api/jobs/failed/{always}/forget", headers=headers).status_code == 200
    assert c.get("/horizon/api/jobs/failed", params={"id": always}).json()["total"] == 0
    assert c.post(f"/horizon/api/jobs/failed/{always}/forget", headers=headers).status_code == 404
    assert c.get("/horizon/api/monitoring").json() == [{"tag": "failing", "completed": 0, "failed": 0}]

    assert c.post(f"/horizon/api/batches/{seeded.batch_id}/retry", headers=headers).json()["retried"] == 1
    assert wait_until(lambda: c.get(f"/horizon/api/batches/{seeded.batch_id}").json()["failed_jobs"] == 1, timeout=45)
    cancelled = c.post(f"/horizon/api/batches/{seeded.batch_id}/cancel", headers=headers).json()
    assert cancelled["state"] == "cancelled" and cancelled["cancelled_at"]

    # a monitored tag counts the jobs completed from then on (Horizon's monitored tags)
    assert c.post("/horizon/api/monitoring", json={"tag": "user:2"}, headers=headers).json() == {"monitored": ["failing", "user:2"]}
    assert c.get("/horizon/api/monitoring").json()[1] == {"tag": "user:2", "completed": 0, "failed": 0}
    from tests.fixtures.dashboard_jobs import TaggedJob

    TaggedJob(str(tmp_path / "witness.log"), 2).on_connection(backend.connection).dispatch()
    assert wait_until(lambda: c.get("/horizon/api/monitoring").json()[1]["completed"] == 1, timeout=45)
    assert "user:2" in c.get("/horizon/monitoring").text
    assert c.post("/horizon/api/monitoring/stop", json={"tag": "user:2"}, headers=headers).json() == {"monitored": ["failing"]}


def test_unknown_ids_and_bad_input_get_clear_answers(backend: Backend):
    c = client()
    headers = csrf(c)
    for url in ("/horizon/api/jobs/6b1c0a56-0000-4000-8000-000000000000", "/horizon/api/batches/nope"):
        response = c.get(url)
        assert response.status_code == 404 and "error" in response.json()
    assert c.get("/horizon/jobs/6b1c0a56-0000-4000-8000-000000000000").status_code == 404
    assert c.get("/horizon/batches/nope").status_code == 404
    assert c.post("/horizon/api/jobs/failed/nope/retry", headers=headers).status_code == 404
    for params in ({"page": "0"}, {"page": "abc"}, {"per_page": "1000"}, {"page": "-1"}):
        for kind in ("pending", "completed", "failed"):
            response = c.get(f"/horizon/api/jobs/{kind}", params=params)
            assert response.status_code == 400 and "page" in response.json()["error"]
        assert c.get("/horizon/jobs/failed", params=params).status_code == 400
    assert c.get("/horizon/api/metrics/jobs", params={"minutes": "0"}).status_code == 400
    assert c.post("/horizon/api/jobs/failed/retry", content=b"{not json", headers=headers).status_code == 400
    assert c.post("/horizon/api/jobs/failed/retry", json={"ids": "x"}, headers=headers).status_code == 400
    assert c.post("/horizon/api/monitoring", json={"tag": ""}, headers=headers).status_code == 400
    assert c.get("/horizon/api/nothing-here").status_code == 404
