"""Seed 001 (RouteMQ queue README): every code sample, imports changed only; on SQLite and Redis with a real worker."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from freezegun import freeze_time

from tests.drivers.conftest import Backend
from tests.fixtures.seeds import reader
from tests.seeds.conftest import run, work_queues


def test_quick_start_create_dispatch_and_run(seed_backend: Backend, capsys: pytest.CaptureFixture[str]) -> None:
    # 2. Dispatch the job (top-level awaits in the sample: the body of this coroutine)
    from app.Queue.aio import dispatch
    from tests.fixtures.seeds.s001_quick_start import SendEmailJob

    async def sample() -> None:
        job = SendEmailJob()
        job.to = "user@example.com"
        job.subject = "Welcome!"
        await dispatch(job)

    run(sample)
    # 3. Run the worker: python main.py --queue-work --queue emails
    work_queues(seed_backend, ["emails"])
    assert capsys.readouterr().out.splitlines() == ["Sending email to user@example.com"]


def test_use_case_1_email_notifications(seed_backend: Backend) -> None:
    from tests.fixtures.seeds.s001_email_notifications import handle_user_signup

    run(lambda: handle_user_signup({"payload": {"email": "hello@example.com"}}))
    work_queues(seed_backend, ["emails"])
    assert [c[1:4] for c in reader.called("SendEmailJob")] == [("hello@example.com", None, "welcome")]


def test_use_case_2_data_processing(seed_backend: Backend) -> None:
    from app.Queue.aio import queue
    from tests.fixtures.seeds.reader import ProcessDataJob

    device_id, data = "sensor-9", {"temperature": [20.5, 21.0]}

    async def sample() -> None:
        job = ProcessDataJob()
        job.device_id = device_id
        job.sensor_data = data
        await queue.push(job, queue="data-processing")

    run(sample)
    assert seed_backend.manager.size("data-processing", seed_backend.connection) == 1
    work_queues(seed_backend, ["data-processing"])
    assert reader.called("ProcessDataJob") == [("ProcessDataJob", "sensor-9", {"temperature": [20.5, 21.0]})]


def test_use_case_3_scheduled_reports(seed_backend: Backend) -> None:
    from app.Queue.aio import queue
    from tests.fixtures.seeds.reader import GenerateReportJob

    user_id = 77

    async def sample() -> None:
        # Schedule report for 1 hour later
        job = GenerateReportJob()
        job.user_id = user_id
        await queue.later(3600, job)  # 3600 seconds = 1 hour

    run(sample)
    work_queues(seed_backend)
    assert reader.called("GenerateReportJob") == []
    with freeze_time(datetime.now(timezone.utc) + timedelta(seconds=3601), tick=True):
        work_queues(seed_backend)
    assert reader.called("GenerateReportJob") == [("GenerateReportJob", None, 77)]
