"""Job metrics: recorded by workers (buffered), shared through the database, pruned after the retention window."""
from __future__ import annotations

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select, text

from app.Jobs.MetricsCollector import JobMetrics, MetricsCollector, retention_hours
from app.Jobs.MetricsStore import BIN_BASE, MetricsStore, Sample, bin_of, bin_value, percentile
from app.Queue.Database.metrics_tables import job_metrics
from app.Queue.errors import ConfigurationError
from app.Queue.events import JobFailed, JobProcessed, WorkerStarting, WorkerStopping
from app.Queue.Worker import Worker
from app.Queue.WorkerOptions import WorkerOptions
from tests.fixtures.console_jobs import BrokenJob, ReportJob


def rows(qm) -> int:
    with qm.engine().connect() as conn:
        return int(conn.execute(select(func.count()).select_from(job_metrics)).scalar_one())


def work(qm, queues=("default",)) -> None:
    Worker(qm, WorkerOptions(memory=0, stop_when_empty=True, sleep=0, max_tries=1)).daemon("database", list(queues))


@pytest.mark.parametrize("seconds", [0.00011, 0.001, 0.0123, 0.5, 3.0, 42.0, 3600.0])
def test_histogram_bins_estimate_a_run_time_within_twelve_percent(seconds):
    assert bin_value(bin_of(seconds)) == pytest.approx(seconds, rel=0.12)


@pytest.mark.parametrize("seconds", [0.0, 0.00005, BIN_BASE])
def test_run_times_up_to_the_base_share_bin_zero_valued_below_the_base(seconds):
    assert bin_of(seconds) == 0 and 0 < bin_value(0) <= BIN_BASE


def test_p95_comes_from_the_histogram():
    hist: dict[int, int] = {}
    for value in [0.01] * 95 + [2.0] * 5:
        hist[bin_of(value)] = hist.get(bin_of(value), 0) + 1
    assert percentile(hist, 0.95) == pytest.approx(0.01, rel=0.12)
    assert percentile(hist, 0.99) == pytest.approx(2.0, rel=0.12)
    assert percentile({}, 0.95) == 0.0


def test_worker_records_count_average_p95_and_success_rate(queue_env):
    runtimes: list[float] = []  # what the worker measured: the metrics must reflect exactly these
    queue_env.events.listen(JobProcessed, lambda e: runtimes.append(e.runtime))
    for _ in range(4):
        ReportJob.dispatch(0.02)
    BrokenJob.dispatch()
    work(queue_env)
    report = JobMetrics.get_job_metrics("ReportJob")
    assert (report.count, report.processed, report.failed, report.success_rate) == (4, 4, 0, 1.0)
    assert len(runtimes) == 4 and min(runtimes) >= 0.02  # each slept 0.02 s
    assert report.avg_execution_time == pytest.approx(sum(runtimes) / 4, rel=1e-3)
    assert report.max_execution_time == pytest.approx(max(runtimes), rel=1e-3)
    assert report.p95 == pytest.approx(max(runtimes), rel=0.12) and report.p95 <= report.max_execution_time
    broken = JobMetrics.get_job_metrics("BrokenJob")
    assert (broken.count, broken.failed, broken.success_rate) == (1, 1, 0.0)
    unknown = JobMetrics.get_job_metrics("NeverRanJob")
    assert (unknown.count, unknown.avg_execution_time, unknown.p95) == (0, 0.0, 0.0)
    assert [m.name for m in JobMetrics.all_job_metrics()] == ["ReportJob", "BrokenJob"]


def test_a_worker_buffers_samples_and_writes_them_when_it_stops(queue_env):
    collector = MetricsCollector(MetricsStore(queue_env.engine()), 24)
    job = ReportJob()
    collector.on_worker_starting(WorkerStarting("w1", "default", "database", ("default",)))
    for _ in range(3):
        collector.on_processed(JobProcessed(job, {"queue": "default"}, 1, 0.01))
    collector.on_failed(JobFailed(None, {"queue": "default", "displayName": "Gone"}, RuntimeError("x"), 0.2))
    assert rows(queue_env) == 0  # nothing written while the loop runs (the flush thread waits a second)
    collector.on_worker_stopping(WorkerStopping(0, "empty"))
    assert rows(queue_env) == 2
    store = MetricsStore(queue_env.engine())
    assert store.summary(0, job="ReportJob").processed == 3 and store.summary(0, job="Gone").failed == 1


def test_outside_a_worker_loop_samples_are_written_at_once(queue_env):
    ReportJob().on_connection("sync").dispatch()
    assert rows(queue_env) == 1
    assert JobMetrics.get_job_metrics("ReportJob").count == 1


def test_metrics_are_pruned_after_the_retention_window(queue_env, monkeypatch):
    monkeypatch.setenv("QUEUE_METRICS_RETENTION_HOURS", "2")
    from config import env as env_mod

    env_mod.reload()
    store = MetricsStore(queue_env.engine())
    with freeze_time("2026-01-01 00:00:00") as clock:
        store.record([Sample("ReportJob", "default", 0.1, True, 1767225600.0)])
        clock.tick(3 * 3600)
        collector = MetricsCollector(store, retention_hours())
        assert JobMetrics.get_job_metrics("ReportJob").count == 0  # outside the window already
        collector.on_processed(JobProcessed(ReportJob(), {"queue": "default"}, 1, 0.1))  # writing prunes old rows
        assert rows(queue_env) == 1
        assert JobMetrics.get_job_metrics("ReportJob").count == 1
        assert JobMetrics.get_job_metrics("ReportJob", minutes=1).count == 1


def test_bad_retention_setting_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("QUEUE_METRICS_RETENTION_HOURS", "a week")
    from config import env as env_mod

    env_mod.reload()
    with pytest.raises(ConfigurationError, match="QUEUE_METRICS_RETENTION_HOURS"):
        retention_hours()


def test_a_missing_metrics_table_never_breaks_job_processing(queue_env, witness):
    with queue_env.engine().begin() as conn:
        conn.execute(text("DROP TABLE job_metrics"))
    from tests.fixtures.jobs import RecordJob

    RecordJob.dispatch(str(witness))
    work(queue_env)
    assert witness.read_text().startswith("ran ")


def test_queue_stats_report_counts_throughput_and_oldest_wait(queue_env):
    with freeze_time("2026-01-01 00:00:00") as clock:
        for _ in range(3):
            ReportJob.dispatch()
        clock.tick(10)
        ReportJob.dispatch()
        ReportJob().delay_until(600).dispatch()
        BrokenJob.dispatch()
        stats = JobMetrics.get_queue_stats("default")
        assert (stats.pending, stats.delayed, stats.reserved, stats.failed) == (5, 1, 0, 0)
        assert stats.oldest_wait == pytest.approx(10)
        assert stats.throughput_per_minute == 0
        work(queue_env)
        stats = JobMetrics.get_queue_stats("default")
        assert (stats.pending, stats.delayed, stats.failed, stats.oldest_wait) == (0, 1, 1, None)
        assert stats.throughput_per_minute == pytest.approx(5 / 5)
        assert queue_env.get_stats("default").size == 1


def test_a_retried_write_does_not_count_samples_twice(queue_env, monkeypatch):
    from sqlalchemy.exc import IntegrityError

    store = MetricsStore(queue_env.engine())
    store.record([Sample("ReportJob", "default", 0.1, True, 1000.0)])
    real_merge, calls = MetricsStore._merge, []

    def flaky_merge(conn, key, agg):
        real_merge(conn, key, agg)
        calls.append(key)
        if len(calls) == 1:  # as if another writer inserted the same row first
            raise IntegrityError("insert", {}, Exception("duplicate"))

    monkeypatch.setattr(MetricsStore, "_merge", staticmethod(flaky_merge))
    store.record([Sample("ReportJob", "default", 0.1, True, 1001.0)])
    assert len(calls) == 2
    assert store.summary(0, job="ReportJob").processed == 2
