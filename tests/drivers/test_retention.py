"""queue:prune applies config/queue.py `retention` to failed jobs, batches, metrics, audit entries, statuses and
completed-job records."""
from __future__ import annotations

from freezegun import freeze_time

from app.Audit.AuditTrail import flush, make_store
from app.Horizon.CompletedStoreFactory import completed_store
from app.Jobs.Batch import batch
from app.Jobs.MetricsStore import MetricsStore, Sample
from tests.console.conftest import run_command
from tests.core_helpers import keep_signal_handlers, work  # noqa: F401 (autouse fixture)
from tests.drivers.conftest import Backend
from tests.fixtures.batch_jobs import Work
from tests.fixtures.jobs import RecordJob

DAY = 86400


def _fail(qm, conn: str, tmp_path) -> str:
    job_uuid, payload = qm.codec.create(RecordJob(str(tmp_path / "w")), "default", conn)
    qm.failed.log(conn, "default", payload, "RuntimeError: x", job_uuid)
    return job_uuid


def test_prune_removes_each_kind_once_older_than_its_setting(backend: Backend, tmp_path, monkeypatch):
    monkeypatch.setenv("QUEUE_RETAIN_FAILED_HOURS", "36")
    monkeypatch.setenv("QUEUE_RETAIN_BATCHES_HOURS", "36")
    monkeypatch.setenv("QUEUE_RETAIN_AUDIT_HOURS", "60")
    monkeypatch.setenv("QUEUE_RETAIN_METRICS_HOURS", "0")  # kept forever
    monkeypatch.setenv("QUEUE_RETAIN_COMPLETED_HOURS", "36")
    monkeypatch.setenv("QUEUE_COMPLETED_TRIM_MINUTES", "100000")  # the workers' own trim leaves them to queue:prune
    from config import env as env_mod

    env_mod.reload()
    qm, conn = backend.manager, backend.connection
    qm.reset()
    make_store(qm).prune(4e9)
    MetricsStore(qm.engine()).prune(4e9)
    completed_store(qm).prune(4e9)
    with freeze_time("2030-01-01 00:00:00") as clock:
        _fail(qm, conn, tmp_path)
        old_batch = batch([Work(str(tmp_path / "w"), "a")]).on_connection(conn).dispatch()
        work(qm, ["default"], conn)
        flush(qm)
        clock.tick(2 * DAY)
        new_failed = _fail(qm, conn, tmp_path)
        new_batch = batch([Work(str(tmp_path / "w"), "b")]).on_connection(conn).dispatch()
        work(qm, ["default"], conn)
        flush(qm)
        audit_before = len(make_store(qm).query(limit=0))
        MetricsStore(qm.engine()).record([Sample("OldJob", "default", 0.1, True, clock.time_to_freeze.timestamp() - 2 * DAY)])
        completed_before = completed_store(qm).count_since(0)
        clock.tick(DAY)  # old things are 3 days old, new ones 1 day
        ran = run_command("queue:prune")
        assert ran.status == 0, ran.err
        assert "failed_jobs: 1 removed (older than 36 h)" in ran.out
        assert "finished_batches: 1 removed (older than 36 h)" in ran.out
        assert "metrics: 0 removed (kept forever)" in ran.out
        assert "completed_jobs: " in ran.out and "(older than 36 h)" in ran.out
        assert 0 < completed_store(qm).count_since(0) < completed_before  # the old batch's job went, the new one stays
        assert qm.failed.ids() == [new_failed]
        repo = qm.batches.repository
        assert repo.find(old_batch) is None and repo.find(new_batch) is not None
        remaining = make_store(qm).query(limit=0)
        assert 0 < len(remaining) < audit_before and all(e.at >= clock.time_to_freeze.timestamp() - 3 * DAY for e in remaining)
        assert MetricsStore(qm.engine()).summary(0, job="OldJob").processed == 1  # metrics: kept forever


def test_a_bad_retention_setting_is_one_line(backend: Backend, monkeypatch):
    backend.manager.reset({**backend.manager.config, "retention": {"failed_jobs": -1}})
    ran = run_command("queue:prune")
    assert ran.status == 1 and "retention['failed_jobs'] must be hours >= 0" in ran.err
