"""Seed 000 (RouteMQ docs/queue-system.md): every code sample, ported with only its imports changed.

Samples that define code live in tests/fixtures/seeds/s000_*.py; samples that are bare
top-level statements (`job = ...; await queue.push(job)`) are the body of an `async def`
here, since a module cannot `await` at top level. Each runs on SQLite and on Redis with
a real worker. Bash and ini samples: see test_seed_workers.py and docs/upgrading.md.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time

from app.Jobs.Job import Job
from app.Jobs.JobState import JobState
from tests.core_helpers import work
from tests.drivers.conftest import Backend
from tests.fixtures.seeds import reader
from tests.seeds.conftest import run, work_queues



def stats(backend: Backend, queue: str = "default", connection: str | None = None) -> tuple[int, int]:
    s = backend.manager.get_stats(queue, connection or backend.connection)
    return s.pending, s.delayed


# -- Configuration ---------------------------------------------------------------------------------

def test_configuration_env_block_configures_redis_and_mysql(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from config import env as env_mod
    from config.database import database_url
    from config.queue import settings

    (tmp_path / ".env").write_text("""
# Queue Configuration
QUEUE_CONNECTION=redis  # 'redis' or 'database'

# Redis (required if using Redis queue)
ENABLE_REDIS=true
REDIS_HOST=localhost
REDIS_PORT=6379
REDIS_DB=0

# MySQL (required if using Database queue)
ENABLE_MYSQL=true
DB_HOST=localhost
DB_PORT=3306
DB_NAME=mqtt_framework
DB_USER=root
DB_PASS=your_password
""")
    for key in ("QUEUE_CONNECTION", "DB_CONNECTION", "DB_DATABASE", "CACHE_STORE"):
        monkeypatch.delenv(key, raising=False)
    env_mod.reload()
    config = settings()
    assert config["default"] == "redis"
    assert config["connections"]["redis"]["enabled"] is True
    assert (config["connections"]["redis"]["host"], config["connections"]["redis"]["port"]) == ("localhost", 6379)
    # ENABLE_MYSQL=true with no DB_CONNECTION selects MySQL, as RouteMQ does.
    assert database_url() == "mysql+pymysql://root:your_password@localhost:3306/mqtt_framework?charset=utf8mb4"


# -- Creating Jobs ----------------------------------------------------------------------------------

def test_basic_job_example_runs_its_async_handle(seed_backend: Backend, caplog: pytest.LogCaptureFixture) -> None:
    from app.Queue.aio import dispatch
    from tests.fixtures.seeds.s000_send_notification_job import SendNotificationJob

    async def sample() -> Any:
        job = SendNotificationJob()
        job.user_id = 123
        job.message = "Your order has been shipped!"
        return await dispatch(job)

    job_id = run(sample)
    with caplog.at_level(logging.INFO, logger="RouteMQ.Jobs"):
        work_queues(seed_backend)
    said = [r.getMessage() for r in caplog.records if r.name == "RouteMQ.Jobs.SendNotificationJob"]
    assert said == ["Sending notification to user 123", "Message: Your order has been shipped!", "Notification sent successfully"]
    assert Job.status(job_id).state == JobState.COMPLETED


class _Refuse(logging.Filter):
    """Makes the job's first log call raise, as a failing notification service would."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith("Sending notification"):
            raise ConnectionError("push service down")
        return True


def test_basic_job_example_failed_coroutine_runs_when_it_fails_permanently(
        seed_backend: Backend, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.Queue.aio import dispatch
    from tests.fixtures.seeds import s000_send_notification_job as sample_module

    monkeypatch.setattr(sample_module.SendNotificationJob, "max_tries", 1)  # fail on the first attempt, not after 3 x 10 s
    refuse = _Refuse()
    sample_module.logger.addFilter(refuse)
    try:
        async def sample() -> Any:
            job = sample_module.SendNotificationJob()
            job.user_id = 123
            return await dispatch(job)

        job_id = run(sample)
        with caplog.at_level(logging.INFO, logger="RouteMQ.Jobs"):
            work_queues(seed_backend)
    finally:
        sample_module.logger.removeFilter(refuse)
    errors = [r.getMessage() for r in caplog.records if r.name == sample_module.logger.name and r.levelno == logging.ERROR]
    assert errors == ["Failed to send notification to user 123: push service down"]
    assert Job.status(job_id).state == JobState.FAILED


def test_custom_data_in_jobs_restores_public_attributes(seed_backend: Backend, capsys: pytest.CaptureFixture[str]) -> None:
    from app.Queue.aio import dispatch
    from tests.fixtures.seeds.s000_process_order_job import ProcessOrderJob

    async def sample() -> None:
        job = ProcessOrderJob()
        job.order_id = 42
        job.customer_email = "buyer@example.com"
        job.items = [{"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 1}]
        await dispatch(job)

    run(sample)
    work_queues(seed_backend)
    out = capsys.readouterr().out.splitlines()
    assert out == ["Processing order 42", "Customer: buyer@example.com",
                   "Items: [{'sku': 'A-1', 'qty': 2}, {'sku': 'B-7', 'qty': 1}]"]


# -- Dispatching Jobs -------------------------------------------------------------------------------

def test_dispatch_helper_from_an_mqtt_handler(seed_backend: Backend, caplog: pytest.LogCaptureFixture) -> None:
    from tests.fixtures.seeds.s000_dispatch_helper import handle_message

    run(lambda: handle_message({"topic": "orders/1"}))
    assert stats(seed_backend) == (1, 0)
    with caplog.at_level(logging.INFO, logger="RouteMQ.Jobs"):
        work_queues(seed_backend)
    assert "Sending notification to user 123" in caplog.messages
    assert stats(seed_backend) == (0, 0)


def test_queue_manager_push_to_default_queue_named_queue_and_connection(seed_backend: Backend) -> None:
    from app.Queue.aio import queue
    from tests.fixtures.seeds.reader import SendEmailJob

    async def sample() -> None:
        # Dispatch to default queue
        job = SendEmailJob()
        job.to = "user@example.com"
        job.subject = "Welcome!"
        await queue.push(job)

        # Dispatch to specific queue
        await queue.push(job, queue="emails")

        # Dispatch to specific connection
        await queue.push(job, connection="database")

    run(sample)
    # The reader's SendEmailJob lives on "emails": push(job) and push(job, queue="emails") both land there.
    on_database = 1 if seed_backend.connection != "database" else 3
    assert seed_backend.manager.size("emails", seed_backend.connection) == (2 if on_database == 1 else 3)
    assert seed_backend.manager.size("emails", "database") == on_database
    work_queues(seed_backend, ["emails"])
    if seed_backend.connection != "database":
        work(seed_backend.manager, ["emails"], connection="database")
    assert [c[1:3] for c in reader.called("SendEmailJob")] == [("user@example.com", "Welcome!")] * 3


def test_delayed_jobs_run_after_their_delay(seed_backend: Backend) -> None:
    from app.Queue.aio import queue
    from tests.fixtures.seeds.reader import GenerateReportJob

    async def sample() -> None:
        job = GenerateReportJob()
        job.report_type = "monthly"
        job.user_id = 456

        # Run after 1 hour (3600 seconds)
        await queue.later(3600, job)

        # Run after 5 minutes
        await queue.later(300, job)

    run(sample)
    assert stats(seed_backend) == (0, 2)
    work_queues(seed_backend)
    assert reader.called("GenerateReportJob") == []
    with freeze_time(datetime.now(timezone.utc) + timedelta(seconds=301), tick=True):
        work_queues(seed_backend)
    assert reader.called("GenerateReportJob") == [("GenerateReportJob", "monthly", 456)]
    with freeze_time(datetime.now(timezone.utc) + timedelta(seconds=3601), tick=True):
        work_queues(seed_backend)
    assert len(reader.called("GenerateReportJob")) == 2


def test_bulk_dispatching(seed_backend: Backend) -> None:
    from app.Queue.aio import queue
    from tests.fixtures.seeds.reader import user_ids
    from tests.fixtures.seeds.s000_send_notification_job import SendNotificationJob

    async def sample() -> Any:
        jobs = []
        for user_id in user_ids:
            job = SendNotificationJob()
            job.user_id = user_id
            job.message = "System maintenance tonight"
            jobs.append(job)

        # Dispatch all jobs
        return await queue.bulk(jobs)

    ids = run(sample)
    assert len(ids) == 3 and len(set(ids)) == 3
    assert stats(seed_backend) == (3, 0)
    work_queues(seed_backend)
    assert [Job.status(i).state for i in ids] == [JobState.COMPLETED] * 3


def test_dispatching_from_mqtt_handler_controller(seed_backend: Backend, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.fixtures.seeds.s000_order_controller import OrderController

    reply = run(lambda: OrderController.handle_new_order("A-17", {"items": [{"sku": "X", "qty": 1}]}, client=None))
    assert reply == {"status": "accepted", "order_id": "A-17"}
    work_queues(seed_backend)
    assert capsys.readouterr().out.splitlines() == ["Received new order A-17", "Processing order A-17", "Customer: None", "Items: []"]


# -- Failed Jobs --------------------------------------------------------------------------------------

def _one_failed_job(backend: Backend, queue: str = "emails") -> str:
    from app.Queue.aio import queue as aio_queue
    from tests.fixtures.seeds.s000_failed_handling import MyJob

    job_id = run(lambda: aio_queue.push(MyJob(), queue=queue))
    work_queues(backend, [queue], max_tries=1)
    return str(job_id)


def test_query_failed_jobs_with_the_model(seed_backend: Backend, capsys: pytest.CaptureFixture[str]) -> None:
    from sqlalchemy import select

    from app.Models.Model import Model
    from app.Models.QueueFailedJob import QueueFailedJob

    job_id = _one_failed_job(seed_backend)
    capsys.readouterr()

    async def sample() -> None:
        session = await Model.get_session()
        result = await session.execute(
            select(QueueFailedJob)
            .where(QueueFailedJob.queue == "emails")
            .order_by(QueueFailedJob.failed_at.desc())
        )
        failed_jobs = result.scalars().all()

        for job in failed_jobs:
            print(f"Failed at: {job.failed_at}")
            print(f"Exception: {job.exception}")
            print(f"Payload: {job.payload}")

    run(sample)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Failed at: ") and int(out[0].split(": ")[1]) > 0
    assert out[1].startswith("Exception: TypeError: MyJob must define handle()")
    assert job_id in next(line for line in out if line.startswith("Payload: "))


def test_handling_failed_jobs_awaits_the_failed_coroutine(seed_backend: Backend, caplog: pytest.LogCaptureFixture) -> None:
    job_id = _one_failed_job(seed_backend, "default")
    assert reader.called("send_admin_alert") == [("send_admin_alert", "Job failed: MyJob")]
    assert "Job failed: MyJob must define handle()" in caplog.messages
    assert Job.status(job_id).state == JobState.FAILED


# -- Best Practices ---------------------------------------------------------------------------------------

def test_best_practice_1_small_focused_jobs(seed_backend: Backend) -> None:
    from app.Queue.aio import dispatch
    from tests.fixtures.seeds.s000_best_practices import SendWelcomeEmailJob, UserSignupJob

    async def sample() -> None:
        good = SendWelcomeEmailJob()
        good.user_id = 5
        await dispatch(good)
        await dispatch(UserSignupJob())

    run(sample)
    work_queues(seed_backend)
    assert [c[0] for c in reader.CALLS] == ["send_email", "send_email", "create_profile", "setup_billing", "send_sms"]
    assert reader.CALLS[0] == ("send_email", 5, "welcome")


def test_best_practice_2_idempotent_jobs(seed_backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    from app.Queue.aio import dispatch
    from tests.fixtures.seeds.s000_best_practices import UpdateUserScoreJob

    users = tmp_path / "users.sqlite"
    with sqlite3.connect(users) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, score INTEGER)")
        conn.execute("INSERT INTO users VALUES (9, 0)")
    monkeypatch.setattr(reader.db, "path", str(users))

    async def sample() -> None:
        job = UpdateUserScoreJob()
        job.user_id, job.new_score = 9, 50
        await dispatch(job)
        await dispatch(job)  # run twice: the SET part gives the same score, the INCREMENT part does not

    run(sample)
    work_queues(seed_backend)
    with sqlite3.connect(users) as conn:
        assert conn.execute("SELECT score FROM users WHERE id = 9").fetchone() == (60,)  # 50, then +10 after the last SET


def test_best_practice_3_timeouts_are_used_by_the_worker(seed_backend: Backend) -> None:
    from app.Queue.aio import dispatch
    from tests.fixtures.seeds.s000_best_practices import DataProcessingJob, QuickJob, ReportGenerationJob

    ids = run(lambda: _dispatch_all(dispatch, [QuickJob(), DataProcessingJob(), ReportGenerationJob()]))
    envelopes = _stored_envelopes(seed_backend, "default")
    assert sorted(e["timeout"] for e in envelopes) == [30, 300, 600]
    work_queues(seed_backend, max_tries=1)  # no handle(): each fails, proving it ran under the worker
    assert [Job.status(i).state for i in ids] == [JobState.FAILED] * 3


async def _dispatch_all(dispatch: Any, jobs: list[Job]) -> list[str]:
    return [await dispatch(job) for job in jobs]


def _stored_envelopes(backend: Backend, queue: str) -> list[dict[str, Any]]:
    """Read the queue's stored payloads (the worker's view) without reserving them."""
    import json

    if backend.name == "redis":
        keys = backend.driver().keys(queue)
        records = backend.driver().client.zrange(keys.pending, 0, -1)
        return [json.loads(r.split("|", 4)[4]) for r in records]
    from sqlalchemy import select

    from app.Queue.Database.tables import jobs

    with backend.manager.engine().connect() as conn:
        return [json.loads(p) for (p,) in conn.execute(select(jobs.c.payload).where(jobs.c.queue == queue))]


def test_best_practice_4_queues_for_priorities(seed_backend: Backend) -> None:
    from app.Queue.aio import dispatch, queue
    from tests.fixtures.seeds.s000_best_practices import CleanupJob, CriticalAlertJob, EmailJob

    async def sample() -> tuple[int, int, int]:
        await _dispatch_all(dispatch, [CleanupJob(), EmailJob(), CriticalAlertJob()])
        return await queue.size("critical"), await queue.size("emails"), await queue.size("low-priority")

    assert run(sample) == (1, 1, 1)
    assert [e["maxTries"] for e in _stored_envelopes(seed_backend, "critical")] == [5]
    # "run workers with appropriate settings": one worker, strict priority order critical > emails > low-priority
    order: list[str] = []
    seed_backend.manager.events.listen(_processing(), lambda e: order.append(e.envelope["displayName"].rsplit(".", 1)[-1]))
    work_queues(seed_backend, ["critical", "emails", "low-priority"])
    # No handle(), so each fails: every attempt (its own max_tries) of a higher queue runs first.
    assert order == ["CriticalAlertJob"] * 5 + ["EmailJob"] * 3 + ["CleanupJob"]


def _processing() -> Any:
    from app.Queue.events import JobProcessing

    return JobProcessing


def test_best_practice_5_monitor_queue_size(seed_backend: Backend, caplog: pytest.LogCaptureFixture) -> None:
    from app.Queue.aio import queue
    from tests.fixtures.seeds.s000_best_practices import QuickJob

    logger = logging.getLogger("RouteMQ.Monitor")
    run(lambda: queue.bulk([QuickJob() for _ in range(1001)]))

    async def sample() -> int:
        # Check queue size
        size = await queue.size("default")
        if size > 1000:
            logger.warning(f"Queue backlog: {size} jobs pending")
        return size

    with caplog.at_level(logging.WARNING, logger="RouteMQ.Monitor"):
        assert run(sample) == 1001
    assert caplog.messages == ["Queue backlog: 1001 jobs pending"]


def test_best_practice_6_sensitive_data(seed_backend: Backend) -> None:
    from app.Queue.aio import dispatch
    from tests.fixtures.seeds.s000_best_practices import BadJob, GoodJob

    async def sample() -> None:
        bad = BadJob()
        bad.password = "hunter2"
        await dispatch(bad)
        good = GoodJob()
        good.user_id = 31
        await dispatch(good)

    run(sample)
    stored = " ".join(str(e) for e in _stored_envelopes(seed_backend, "default"))
    assert "hunter2" in stored  # the sample's point: BadJob's password is stored in the queue
    work_queues(seed_backend, max_tries=1)
    assert reader.called("get_user_credentials") == [("get_user_credentials", 31)]


def test_best_practice_7_log_appropriately(seed_backend: Backend, caplog: pytest.LogCaptureFixture) -> None:
    from app.Queue.aio import dispatch
    from tests.fixtures.seeds.s000_best_practices import MyJob

    job_id = run(lambda: dispatch(MyJob()))
    with caplog.at_level(logging.INFO, logger="RouteMQ.Jobs"):
        work_queues(seed_backend)
    assert [m for m in caplog.messages if "job" in m.lower()][:2] == [f"Processing job {job_id} (attempt 1)", "Job completed successfully"]


# -- Example Use Cases -------------------------------------------------------------------------------------

def test_use_case_1_email_notifications(seed_backend: Backend) -> None:
    from tests.fixtures.seeds.s000_use_cases import handle_user_signup

    run(lambda: handle_user_signup({"params": {"user_id": 3}, "payload": {"email": "new@example.com"}}))
    work_queues(seed_backend, ["emails"])
    assert [c[1:4] for c in reader.called("SendEmailJob")] == [("new@example.com", "Welcome!", "welcome")]


def test_use_case_2_data_processing_pipeline(seed_backend: Backend) -> None:
    from tests.fixtures.seeds.s000_use_cases import process_sensor_data

    run(lambda: process_sensor_data("dev-1", {"t": 21.5}))
    assert stats(seed_backend) == (2, 1)
    work_queues(seed_backend)
    assert [c[0] for c in reader.CALLS] == ["StoreRawDataJob", "AnalyzeDataJob"]
    with freeze_time(datetime.now(timezone.utc) + timedelta(seconds=61), tick=True):
        work_queues(seed_backend)
    assert reader.CALLS[-1] == ("GenerateAlertsJob", "dev-1")


def test_use_case_3_scheduled_reports(seed_backend: Backend) -> None:
    from tests.fixtures.seeds.s000_use_cases import schedule_daily_reports

    run(schedule_daily_reports)
    assert stats(seed_backend) == (0, 2)
    with freeze_time(datetime.now(timezone.utc) + timedelta(days=1, seconds=1), tick=True):
        work_queues(seed_backend)
    assert sorted(reader.called("GenerateReportJob")) == [("GenerateReportJob", "daily", 7), ("GenerateReportJob", "daily", 8)]

