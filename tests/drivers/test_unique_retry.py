"""queue:retry takes a unique job's lock again (and leaves the job failed while another copy holds it)."""
from __future__ import annotations

from cleo.testers.command_tester import CommandTester

from app.Console.Commands.QueueRetry import QueueRetryCommand
from app.Queue.Worker import Worker
from app.Queue.WorkerOptions import WorkerOptions
from tests.conftest import read_lines
from tests.drivers.conftest import Backend
from tests.fixtures.feature_jobs import UniqueJob


def fail_once(backend: Backend, witness) -> str:
    job_id = UniqueJob(witness, 7, fail=True).on_connection(backend.connection).dispatch()
    Worker(backend.manager, WorkerOptions(max_tries=1, sleep=0, stop_when_empty=True)).daemon(backend.connection, ["default"])
    assert [r.uuid for r in backend.manager.failed.all()] == [job_id]
    return job_id


def test_retried_unique_job_holds_its_lock_again(backend: Backend, witness):
    job_id = fail_once(backend, witness)
    tester = CommandTester(QueueRetryCommand())
    assert tester.execute(job_id) == 0
    assert UniqueJob(witness, 7).on_connection(backend.connection).dispatch() is None  # the retried copy holds it
    assert backend.manager.size("default", backend.connection) == 1
    Worker(backend.manager, WorkerOptions(max_tries=1, sleep=0, stop_when_empty=True)).daemon(backend.connection, ["default"])
    assert read_lines(witness) == [f"unique 7 {job_id}"] * 2
    assert UniqueJob(witness, 7).on_connection(backend.connection).dispatch() is not None  # released when it failed again


def test_retry_is_refused_while_another_copy_holds_the_lock(backend: Backend, witness):
    job_id = fail_once(backend, witness)
    newer = UniqueJob(witness, 7).on_connection(backend.connection).dispatch()
    assert newer is not None
    tester = CommandTester(QueueRetryCommand())
    assert tester.execute(job_id) == 1
    assert "holds its lock" in tester.io.fetch_error()
    assert backend.manager.size("default", backend.connection) == 1
    assert [r.uuid for r in backend.manager.failed.all()] == [job_id]
