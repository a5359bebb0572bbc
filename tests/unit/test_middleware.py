"""Job middleware: onion order, serialisation with the job, skipping as done, retry and auth policies."""
from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from freezegun import freeze_time

from app.Jobs.Job import Job, JobState
from app.Jobs.Middleware import LoggingMiddleware, MiddlewareStack, Skip, execution_time
from app.Queue.errors import SerializationError
from app.Queue.events import JobProcessed
from app.Queue.Worker import Worker
from app.Queue.WorkerOptions import WorkerOptions
from tests.conftest import read_lines
from tests.fixtures.feature_jobs import StackJob
from tests.fixtures.middleware_jobs import ConfiguredJob, OnionJob, SkipUnlessJob, authorized, retried


def work(qm, **options) -> None:
    Worker(qm, WorkerOptions(memory=0, stop_when_empty=True, sleep=0, **options)).daemon("database", ["default"])


def test_middleware_wraps_handle_as_an_onion(queue_env, witness):
    OnionJob.dispatch(str(witness))
    work(queue_env)
    assert read_lines(witness) == ["outer in", "inner in", "handle", "inner out", "outer out"]


def test_stack_set_in_init_survives_the_queue_and_runs_on_the_worker(queue_env, witness):
    processed: list[JobProcessed] = []
    queue_env.config  # boot listeners first, then add ours
    queue_env.events.listen(JobProcessed, processed.append)
    StackJob.dispatch(str(witness))
    work(queue_env)
    assert read_lines(witness) == ["stack ran"]
    assert isinstance(processed[0].job.middleware, MiddlewareStack) and len(processed[0].job.middleware) == 2
    assert execution_time(processed[0].job) is not None


def test_skipped_job_counts_as_done(queue_env, witness):
    processed: list[JobProcessed] = []
    queue_env.config
    queue_env.events.listen(JobProcessed, processed.append)
    job_id = StackJob.dispatch(str(witness), skip=True)
    work(queue_env)
    assert read_lines(witness) == []
    assert len(processed) == 1 and queue_env.size("default") == 0
    assert Job.status(job_id).state is JobState.COMPLETED


def test_skip_unless_takes_a_callable_of_the_job(queue_env, witness):
    SkipUnlessJob.dispatch(str(witness), enabled=False)
    SkipUnlessJob.dispatch(str(witness), enabled=True)
    work(queue_env)
    assert read_lines(witness) == ["ran"]


def test_callable_skip_in_a_stored_stack_is_refused_at_dispatch(queue_env, witness):
    job = ConfiguredJob(str(witness), MiddlewareStack([Skip.when(lambda job: True)]))
    with pytest.raises(SerializationError, match="middleware\\(\\) method"):
        job.dispatch()


def test_stack_refuses_objects_without_handle():
    with pytest.raises(TypeError, match="handle\\(job, next\\)"):
        MiddlewareStack().add(object())


def test_retry_middleware_retries_chosen_exceptions_then_fails(queue_env, witness):
    with freeze_time() as clock:
        job_id = retried(str(witness), "value_error").dispatch()
        work(queue_env)
        assert queue_env.get_stats("default").delayed == 1  # released for the policy's 7 s
        clock.tick(timedelta(seconds=8))
        work(queue_env)
    assert read_lines(witness) == ["run 1", "run 2"]
    [record] = queue_env.failed.all()
    assert record.uuid == job_id and record.exception.startswith("ValueError: bad value")


def test_retry_middleware_leaves_other_exceptions_to_the_worker(queue_env, witness):
    retried(str(witness), "raise").dispatch()
    work(queue_env, max_tries=1)
    assert queue_env.failed.all()[0].exception.startswith("RuntimeError: downstream is down")


def test_authorization_middleware_fails_without_retries(queue_env, witness):
    queue_env.worker_permissions = ("billing",)
    authorized(str(witness)).dispatch()
    work(queue_env, max_tries=5)
    assert read_lines(witness) == []
    assert queue_env.failed.all()[0].exception.startswith("AuthorizationError: ConfiguredJob requires permission(s) reports")
    queue_env.worker_permissions = ("reports",)
    authorized(str(witness)).dispatch()
    work(queue_env)
    assert read_lines(witness) == ["run 1"]


def test_logging_middleware_logs_start_and_finish(queue_env, witness, caplog):
    caplog.set_level(logging.INFO, logger="queue.jobs")
    ConfiguredJob(str(witness), MiddlewareStack([LoggingMiddleware()])).dispatch()
    work(queue_env)
    messages = [r.getMessage() for r in caplog.records if r.name == "queue.jobs"]
    assert any("starting (attempt 1)" in m for m in messages) and any("finished in" in m for m in messages)
