"""The core path on the embedded SQLite default: dispatch, work, status."""
from __future__ import annotations

from app.Jobs.Job import Job, JobState
from app.Queue.Worker import Worker
from app.Queue.WorkerOptions import WorkerOptions
from tests.conftest import read_lines
from tests.fixtures.jobs import RecordJob


def test_dispatched_job_runs_once_and_completes(queue_env, witness):
    job_id = RecordJob.dispatch(str(witness), "hello")
    assert Job.status(job_id).state is JobState.PENDING
    assert queue_env.size("default") == 1

    status = Worker(queue_env, WorkerOptions(memory=0, stop_when_empty=True, sleep=0)).daemon("database", ["default"])

    assert status == 0
    assert read_lines(witness) == [f"hello {job_id} 1"]
    assert Job.status(job_id).state is JobState.COMPLETED
    assert queue_env.size("default") == 0
