"""Laravel's middleware options on every backend: ThrottlesExceptions when/delete_when/report/by_key,
WithoutOverlapping shared/dont_release, FailOnException, Skip.when with a callable."""
from __future__ import annotations

import logging

import pytest

from app.Jobs.Job import Job
from app.Jobs.JobState import JobState
from app.Jobs.Middleware import MiddlewareStack, Skip
from app.Queue.errors import SerializationError
from app.Queue.events import JobReleased
from app.Queue.Worker import Worker
from app.Queue.WorkerOptions import WorkerOptions
from tests.conftest import read_lines
from tests.drivers.conftest import Backend
from tests.fixtures.jobs import RecordJob
from tests.fixtures.parity_middleware_jobs import MiddlewareOptionJob, StoredOptionsJob


def run_one(backend: Backend, **options) -> bool:
    opts = {"sleep": 0, "max_tries": 5, **options}
    return Worker(backend.manager, WorkerOptions(**opts)).run_next_job(backend.connection, ["default"])


def released(backend: Backend) -> list[float]:
    delays: list[float] = []
    backend.manager.events.listen(JobReleased, lambda e: delays.append(e.delay))
    return delays


def test_throttle_when_counts_only_accepted_exceptions(backend: Backend, witness):
    delays = released(backend)
    MiddlewareOptionJob(witness, "throttle", "conn").on_connection(backend.connection).dispatch()
    MiddlewareOptionJob(witness, "throttle", "value").on_connection(backend.connection).dispatch()
    assert run_one(backend) and run_one(backend, backoff=(11,))
    assert delays == [5, 11]  # ConnectionError: throttled (backoff 5); ValueError: the worker's policy (11)


def test_throttle_delete_when_deletes_without_retry(backend: Backend, witness):
    job_id = MiddlewareOptionJob(witness, "throttle", "lookup").on_connection(backend.connection).dispatch()
    assert run_one(backend)
    assert not run_one(backend)
    assert read_lines(witness) == ["run throttle lookup 1"]
    assert backend.manager.failed.all() == [] and backend.manager.size("default", backend.connection) == 0
    assert Job.status(job_id).state is JobState.COMPLETED


def test_throttle_report_logs_chosen_exceptions_as_errors(backend: Backend, witness, caplog):
    caplog.set_level(logging.WARNING, logger="queue.throttle")
    MiddlewareOptionJob(witness, "throttle", "conn", key="loud").on_connection(backend.connection).dispatch()
    MiddlewareOptionJob(witness, "throttle", "conn").on_connection(backend.connection).dispatch()
    assert run_one(backend) and run_one(backend)
    levels = [r.levelno for r in caplog.records if r.name == "queue.throttle"]
    assert levels == [logging.ERROR, logging.WARNING]


def test_throttle_by_key_is_shared_between_classes_of_one_key(backend: Backend, witness):
    for _ in range(2):
        MiddlewareOptionJob(witness, "throttle", "conn", key="shared-key").on_connection(backend.connection).dispatch()
    assert run_one(backend) and run_one(backend)
    other = MiddlewareOptionJob(witness, "throttle", "none", key="shared-key").on_connection(backend.connection).dispatch()
    fresh = MiddlewareOptionJob(witness, "throttle", "none", key="other-key").on_connection(backend.connection).dispatch()
    while run_one(backend):
        pass
    ran = read_lines(witness)
    assert ran.count("run throttle conn 1") == 2 and ran.count("run throttle none 1") == 1
    assert Job.status(other).state is JobState.RETRYING and Job.status(fresh).state is JobState.COMPLETED


def test_without_overlapping_shared_blocks_other_classes_with_the_key(backend: Backend, witness):
    assert backend.manager.locks.acquire("overlap:shared:acct", "someone-else", 60)
    delays = released(backend)
    MiddlewareOptionJob(witness, "shared").on_connection(backend.connection).dispatch()
    dropped = MiddlewareOptionJob(witness, "dont_release").on_connection(backend.connection).dispatch()
    assert run_one(backend) and run_one(backend)
    assert read_lines(witness) == [] and delays == [7]
    assert Job.status(dropped).state is JobState.COMPLETED
    backend.manager.locks.release("overlap:shared:acct", "someone-else")


def test_fail_on_exception_fails_at_once(backend: Backend, witness):
    MiddlewareOptionJob(witness, "fail_on", "value").on_connection(backend.connection).dispatch()
    MiddlewareOptionJob(witness, "fail_on", "conn").on_connection(backend.connection).dispatch()
    MiddlewareOptionJob(witness, "fail_on_callable", "conn", key="fatal").on_connection(backend.connection).dispatch()
    for _ in range(3):
        assert run_one(backend, backoff=(30,))
    failed = sorted(r.exception.splitlines()[0] for r in backend.manager.failed.all())
    assert failed == ["ConnectionError: conn", "ValueError: value"]
    assert backend.manager.size("default", backend.connection) == 1  # the ConnectionError without a match: released


def test_skip_when_callables(backend: Backend, witness):
    MiddlewareOptionJob(witness, "skip_no_arg").on_connection(backend.connection).dispatch()
    StoredOptionsJob(witness, flagged=True).on_connection(backend.connection).dispatch()
    StoredOptionsJob(witness, flagged=False).on_connection(backend.connection).dispatch()
    while run_one(backend):
        pass
    assert read_lines(witness) == ["stored none 1"]


def test_stored_throttle_predicate_travels_by_reference(backend: Backend, witness):
    delays = released(backend)
    StoredOptionsJob(witness, mode="conn").on_connection(backend.connection).dispatch()
    StoredOptionsJob(witness, mode="value").on_connection(backend.connection).dispatch()
    assert run_one(backend) and run_one(backend, backoff=(9,))
    assert delays == [4, 9]


def test_a_lambda_set_in_init_is_refused_at_dispatch(backend: Backend, witness):
    job = RecordJob(witness)
    job.middleware = MiddlewareStack([Skip.when(lambda job: True)])
    with pytest.raises(SerializationError, match="middleware"):
        job.on_connection(backend.connection).dispatch()
