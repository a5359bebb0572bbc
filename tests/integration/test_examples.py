"""The seed's example jobs are dispatchable and run on the SQLite default."""
from __future__ import annotations

import json

import pytest
from freezegun import freeze_time

from app.Jobs.Examples.GenerateReportJob import GenerateReportJob
from app.Jobs.Examples.ProcessDataJob import ProcessDataJob
from app.Jobs.Examples.SendEmailJob import SendEmailJob
from app.Jobs.Job import Job, JobState
from app.Queue.events import JobProcessed
from tests.core_helpers import job_rows, keep_signal_handlers, work  # noqa: F401 (autouse fixture)
from tests.support import artisan


@pytest.fixture
def results(queue_env):
    """Collect (job class, handle's return value) of every processed job."""
    seen: list[tuple[str, object]] = []
    queue_env.config  # boot listeners first: reset() clears them
    queue_env.events.listen(JobProcessed, lambda e: seen.append((type(e.job).__name__, e.result)))
    return seen


@pytest.fixture
def report_dir(tmp_path, monkeypatch):
    """Write reports under tmp instead of storage/reports."""
    monkeypatch.setattr(GenerateReportJob, "output_path", lambda self: tmp_path / "reports" / f"{self.report_type}-{self.user_id}.json")
    return tmp_path / "reports"


def test_send_email_job_is_dispatched_to_emails_and_runs(queue_env, results):
    job_id = SendEmailJob.dispatch("user@example.com", "Welcome", "Hello!")
    assert job_rows(queue_env)[0]["queue"] == "emails"
    work(queue_env, ["emails"])
    assert results == [("SendEmailJob", {"to": "user@example.com", "subject": "Welcome"})]
    assert Job.status(job_id).state is JobState.COMPLETED


def test_send_email_job_with_seed_options(queue_env, results):
    with freeze_time("2026-01-01 00:00:00") as clock:
        SendEmailJob("user@example.com", "Welcome", "Hello!").on_queue("high-priority") \
            .delay_until(60).with_priority(10).dispatch()
        (row,) = job_rows(queue_env)
        assert (row["queue"], row["priority"]) == ("high-priority", 10)
        work(queue_env, ["high-priority"])
        assert results == []
        clock.tick(60)
        work(queue_env, ["high-priority"])
    assert len(results) == 1


def test_send_email_job_refuses_a_bad_address_at_dispatch(queue_env):
    with pytest.raises(ValueError, match="not an email address"):
        SendEmailJob.dispatch("nobody", "s", "b")
    assert job_rows(queue_env) == []


def test_process_data_job_reports_progress_and_a_summary(queue_env, results):
    job_id = ProcessDataJob.dispatch("sensor-1", [float(i) for i in range(20)])
    work(queue_env, ["data-processing"])
    assert results == [("ProcessDataJob", {"device_id": "sensor-1", "count": 20, "mean": 9.5, "max": 19.0})]
    assert Job.status(job_id).progress == 100


def test_generate_report_job_writes_its_report(queue_env, results, report_dir):
    job_id = GenerateReportJob.dispatch(42, "weekly")
    work(queue_env, ["reports"])
    report = json.loads((report_dir / "weekly-42.json").read_text())
    assert (report["user_id"], report["type"], report["job_id"]) == (42, "weekly", job_id)
    assert Job.status(job_id).state is JobState.COMPLETED


def test_examples_run_through_artisan_queue_work(queue_env):
    SendEmailJob.dispatch("user@example.com", "Welcome", "Hello!")
    ProcessDataJob.dispatch("sensor-2", [1.0, 2.0])
    result = artisan("queue:work", "--queue=emails,data-processing", "--stop-when-empty", "--sleep=0.1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("DONE") == 2 and job_rows(queue_env) == []


def test_examples_run_inline_on_the_sync_connection(queue_env, results, report_dir):
    SendEmailJob("user@example.com", "Hi", "there").on_connection("sync").dispatch()
    GenerateReportJob(7).on_connection("sync").dispatch()
    assert [name for name, _ in results] == ["SendEmailJob", "GenerateReportJob"]
    assert (report_dir / "daily-7.json").is_file() and job_rows(queue_env) == []


def test_readme_batch_and_etl_chain_examples_run_to_completion(queue_env):
    from app.Jobs.Batch import batch
    from app.Jobs.Chain import chain
    from app.Jobs.ChainMonitor import ChainMonitor
    from app.Jobs.Examples.EtlJobs import ExtractDataJob, LoadDataJob, TransformDataJob, batch_done, batch_failed
    from app.Jobs.Examples.ProcessDataJob import ProcessDataJob
    from app.Models.JobBatch import JobBatch
    from app.Queue.Worker import Worker
    from app.Queue.WorkerOptions import WorkerOptions

    batch_id = batch([ProcessDataJob("dev-1", [1.0, 2.0]), ProcessDataJob("dev-2", [3.0])]) \
        .name("Data Processing Batch").allow_failures(1).then(batch_done).catch(batch_failed).dispatch()
    chain_id = chain([ExtractDataJob("sensors"), TransformDataJob(), LoadDataJob()]).name("ETL").dispatch()

    Worker(queue_env, WorkerOptions(stop_when_empty=True, sleep=0, memory=0)).daemon(
        "database", ["data-processing", "default"])

    found = JobBatch.find(batch_id)
    assert found.finished() and found.progress() == 100 and not found.has_failures()
    status = ChainMonitor(chain_id).get_status()
    assert (status.state, status.current_step, status.total_steps) == ("completed", 3, 3)
