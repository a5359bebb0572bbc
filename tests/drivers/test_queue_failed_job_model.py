"""app.Models.QueueFailedJob (seed 000's model of failed jobs): fields, find, all, retry, forget, the async session."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from app.Jobs.Job import Job
from app.Jobs.JobState import JobState
from app.Models.Model import Model
from app.Models.QueueFailedJob import QueueFailedJob
from app.Queue.errors import QueueError
from tests.core_helpers import keep_signal_handlers, work  # noqa: F401  (fixture)
from tests.drivers.conftest import Backend
from tests.fixtures.jobs import FailingJob


def _fail(backend: Backend, job: Job, queue: str) -> str:
    job_id = backend.manager.push(job, queue=queue, connection=backend.connection)
    work(backend.manager, [queue], connection=backend.connection, max_tries=1)
    return str(job_id)


def test_fields_find_and_all(backend: Backend, witness: Path) -> None:
    first = _fail(backend, FailingJob(str(witness), "first boom"), "emails")
    second = _fail(backend, FailingJob(str(witness), "second boom"), "reports")

    found = QueueFailedJob.find(first)
    assert found is not None
    assert (found.uuid, found.connection, found.queue) == (first, backend.connection, "emails")
    assert found.exception.startswith("RuntimeError: first boom") and first in found.payload
    assert found.failed_at > 0 and found.failed_at_datetime.tzinfo is not None
    assert QueueFailedJob.find(found.id).uuid == first  # the integer row id works too
    assert QueueFailedJob.find("no-such-id") is None
    assert [j.uuid for j in QueueFailedJob.all()] in ([second, first], [first, second])  # newest first; same second: by id
    assert [j.uuid for j in QueueFailedJob.all("reports")] == [second]


def test_retry_requeues_with_fresh_attempts_and_forget_deletes(backend: Backend, witness: Path) -> None:
    retried = _fail(backend, FailingJob(str(witness)), "default")  # its own max_tries: 3 attempts
    forgotten = _fail(backend, FailingJob(str(witness)), "default")
    assert Job.status(retried).state == JobState.FAILED

    record = QueueFailedJob.find(retried)
    assert record.retry() == retried
    assert QueueFailedJob.find(retried) is None and Job.status(retried).state == JobState.PENDING
    with pytest.raises(QueueError, match="no longer recorded"):
        record.retry()
    witness.write_text("")
    work(backend.manager, ["default"], connection=backend.connection)
    assert witness.read_text().splitlines()[:3] == ["attempt 1", "attempt 2", "attempt 3"]  # fresh attempts
    assert QueueFailedJob.find(retried) is not None  # failed again, recorded again

    gone = QueueFailedJob.find(forgotten)
    assert gone.forget() is True and gone.forget() is False
    assert [j.uuid for j in QueueFailedJob.all()] == [retried]


def test_async_session_reads_the_model(backend: Backend, witness: Path) -> None:
    job_id = _fail(backend, FailingJob(str(witness)), "emails")

    async def query() -> list[QueueFailedJob]:
        async with await Model.get_session() as session:
            result = await session.execute(select(QueueFailedJob).where(QueueFailedJob.queue == "emails"))
            return list(result.scalars().all())

    rows = asyncio.run(query())
    assert [r.uuid for r in rows] == [job_id]
