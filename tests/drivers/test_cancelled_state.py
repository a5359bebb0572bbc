"""`cancelled` in Job.status: members skipped because their batch was cancelled, and jobs removed by queue:clear."""
from __future__ import annotations

from cleo.testers.command_tester import CommandTester

from app.Console.Commands.QueueClear import QueueClearCommand
from app.Jobs.Batch import batch
from app.Jobs.Job import Job
from app.Jobs.JobState import JobState
from app.Models.JobBatch import JobBatch
from app.Queue.Worker import Worker
from app.Queue.WorkerOptions import WorkerOptions
from tests.conftest import read_lines
from tests.drivers.conftest import Backend
from tests.fixtures import batch_jobs as bj
from tests.fixtures.jobs import NoopJob


def work(backend: Backend) -> None:
    Worker(backend.manager, WorkerOptions(stop_when_empty=True, sleep=0)).daemon(backend.connection, ["default"])


def test_members_skipped_by_a_cancelled_batch_read_cancelled(backend: Backend, witness):
    done = bj.Work(witness, "before")
    first = batch([done]).on_connection(backend.connection).dispatch()
    work(backend)
    jobs = [bj.Work(witness, f"s{i}") for i in range(3)]
    batch_id = batch(jobs).on_connection(backend.connection).dispatch()
    JobBatch.find(batch_id).cancel()
    work(backend)
    assert read_lines(witness) == [f"ran before {done.job_id}"]
    assert Job.status(done.job_id).state is JobState.COMPLETED
    assert [Job.status(j.job_id).state for j in jobs] == [JobState.CANCELLED] * 3
    assert all(Job.status(j.job_id).finished for j in jobs)
    assert JobBatch.find(first).finished()


def test_jobs_removed_by_queue_clear_read_cancelled(backend: Backend):
    ready = NoopJob().on_connection(backend.connection).dispatch()
    later = NoopJob().on_connection(backend.connection).delay_until(600).dispatch()
    other = NoopJob().on_connection(backend.connection).on_queue("other").dispatch()
    assert CommandTester(QueueClearCommand()).execute(f"{backend.connection} --queue=default --force") == 0
    assert backend.manager.size("default", backend.connection) == 0
    assert Job.status(ready).state is JobState.CANCELLED
    assert Job.status(later).state is JobState.CANCELLED
    assert Job.status(other).state is JobState.PENDING
