"""The worker (DESIGN §5) in this process on SQLite: order, delays, retries, failure, hooks, timeouts."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from freezegun import freeze_time

from app.Jobs.Job import Job, JobState
from app.Queue.WorkerOptions import WorkerOptions
from tests.conftest import read_lines
from tests.core_helpers import failed_rows, job_rows, keep_signal_handlers, work  # noqa: F401 (autouse fixture)
from tests.fixtures.core_jobs import (
    AsyncFailingJob, AsyncSlowJob, BackoffJob, ControlJob, DeadlineJob, MaxExceptionsJob, PlainFailJob,
    ReleaseThenRaiseJob, RetryAfterAliasJob, RetryUntilJob, SlowJob, TaggedRecordJob,
)
from tests.fixtures.jobs import AsyncRecordJob, FailingJob, FlakyJob, RecordJob

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
NOW = int(T0.timestamp())


def test_job_sees_its_dispatch_id_and_attempts_starting_at_one(queue_env, witness):
    job_id = FlakyJob.dispatch(str(witness), succeed_on=2)
    rec = RecordJob.dispatch(str(witness), "rec")
    work(queue_env)
    assert sorted(read_lines(witness)) == sorted(["attempt 1", "attempt 2", f"rec {rec} 1"])
    assert Job.status(job_id).state is JobState.COMPLETED and Job.status(job_id).attempts == 2


def test_async_handle_runs_and_async_failed_is_awaited(queue_env, witness):
    job_id = AsyncRecordJob.dispatch(str(witness))
    AsyncFailingJob.dispatch(str(witness))
    work(queue_env)
    assert read_lines(witness) == [f"async {job_id} 1", "async failed async boom"]


def test_queues_are_served_in_strict_priority_order(queue_env, witness):
    for i in range(3):
        TaggedRecordJob(str(witness), f"low{i}").on_queue("low").dispatch()
    for i in range(2):
        TaggedRecordJob(str(witness), f"high{i}").on_queue("high").dispatch()
    TaggedRecordJob(str(witness), "mid").dispatch()
    work(queue_env, ["high", "default", "low"])
    assert read_lines(witness) == ["high0", "high1", "mid", "low0", "low1", "low2"]


def test_higher_priority_runs_first_within_a_queue_then_fifo(queue_env, witness):
    for tag, prio in [("a", 0), ("b", 5), ("c", 0), ("d", 10), ("e", 5)]:
        TaggedRecordJob(str(witness), tag).with_priority(prio).dispatch()
    work(queue_env)
    assert read_lines(witness) == ["d", "b", "e", "a", "c"]


def test_delayed_job_runs_only_once_its_time_has_come(queue_env, witness):
    with freeze_time(T0) as clock:
        RecordJob(str(witness), "later").delay(60).dispatch()
        work(queue_env)
        assert read_lines(witness) == []
        assert queue_env.get_stats("default").delayed == 1
        clock.tick(59)
        work(queue_env)
        assert read_lines(witness) == []
        clock.tick(1)
        work(queue_env)
        assert len(read_lines(witness)) == 1


def test_backoff_list_gives_the_delay_per_attempt_then_fails_after_max_tries(queue_env, witness):
    with freeze_time(T0) as clock:
        job_id = BackoffJob.dispatch(str(witness))
        delays = []
        for _ in range(3):
            work(queue_env)
            (row,) = job_rows(queue_env)
            delays.append(row["available_at"] - int(clock.time_to_freeze.timestamp()))
            clock.tick(delays[-1])
        assert delays == [10, 20, 20]
        work(queue_env)
    assert job_rows(queue_env) == []
    assert read_lines(witness) == ["attempt 1", "attempt 2", "attempt 3", "attempt 4", "failed fail 4"]
    (failed,) = failed_rows(queue_env)
    assert failed["uuid"] == job_id and failed["exception"].splitlines()[0] == "RuntimeError: fail 4"


def test_retry_after_is_an_alias_for_backoff(queue_env, witness):
    with freeze_time(T0):
        RetryAfterAliasJob.dispatch(str(witness))
        work(queue_env)
        assert job_rows(queue_env)[0]["available_at"] == NOW + 9


def test_failed_is_called_exactly_once_after_the_last_try(queue_env, witness):
    job_id = FailingJob.dispatch(str(witness), "nope")
    work(queue_env)
    work(queue_env)  # nothing left to run: failed() must not run again
    assert read_lines(witness) == ["attempt 1", "attempt 2", "attempt 3", "failed RuntimeError: nope"]
    assert [r["uuid"] for r in failed_rows(queue_env)] == [job_id]
    assert Job.status(job_id).state is JobState.FAILED


def test_worker_tries_and_backoff_apply_when_the_job_sets_none(queue_env, witness):
    with freeze_time(T0):
        PlainFailJob.dispatch(str(witness))
        work(queue_env, max_tries=2, backoff=(7,))
        assert job_rows(queue_env)[0]["available_at"] == NOW + 7
    work(queue_env, max_tries=2, backoff=(7,))
    assert read_lines(witness) == ["attempt 1", "attempt 2"]
    assert len(failed_rows(queue_env)) == 1


def test_the_jobs_own_max_tries_win_over_the_worker_option(queue_env, witness):
    FailingJob.dispatch(str(witness))  # max_tries = 3
    work(queue_env, max_tries=1)
    assert read_lines(witness)[:3] == ["attempt 1", "attempt 2", "attempt 3"]


def test_max_exceptions_fails_the_job_even_with_unlimited_tries(queue_env, witness):
    MaxExceptionsJob.dispatch(str(witness))
    work(queue_env)
    assert read_lines(witness) == ["attempt 1", "attempt 2", "failed exception 2"]


def test_retry_until_replaces_max_tries_and_fails_once_the_time_has_passed(queue_env, witness):
    with freeze_time(T0) as clock:
        job_id = RetryUntilJob.dispatch(str(witness))
        for _ in range(10):
            work(queue_env)
            if not job_rows(queue_env):
                break
            clock.tick(31)
    lines = read_lines(witness)
    assert lines[:4] == ["attempt 1", "attempt 2", "attempt 3", "attempt 4"]
    assert lines[4:] == ["failed MaxAttemptsExceededError: RetryUntilJob has passed its retry_until time"]
    assert failed_rows(queue_env)[0]["uuid"] == job_id


@pytest.mark.parametrize("raise_after", [False, True])
def test_release_inside_handle_requeues_with_its_delay(queue_env, witness, raise_after):
    with freeze_time(T0) as clock:
        ControlJob.dispatch(str(witness), "release", raise_after)
        work(queue_env)
        (row,) = job_rows(queue_env)
        assert (row["attempts"], row["available_at"], row["reserved_at"]) == (1, NOW + 15, None)
        clock.tick(15)
        work(queue_env)
    assert read_lines(witness) == ["release 1", "release 2"]
    assert job_rows(queue_env) == [] and failed_rows(queue_env) == []


@pytest.mark.parametrize("raise_after", [False, True])
def test_fail_inside_handle_fails_at_once_with_that_exception(queue_env, witness, raise_after):
    job_id = ControlJob.dispatch(str(witness), "fail", raise_after)
    work(queue_env)
    assert read_lines(witness) == ["fail 1", "failed ValueError: gave up on purpose"]
    (failed,) = failed_rows(queue_env)
    assert failed["uuid"] == job_id and failed["exception"].startswith("ValueError: gave up on purpose")


@pytest.mark.parametrize("raise_after", [False, True])
def test_delete_inside_handle_removes_the_job_without_failing_it(queue_env, witness, raise_after):
    ControlJob.dispatch(str(witness), "delete", raise_after)
    work(queue_env)
    assert read_lines(witness) == ["delete 1"]
    assert job_rows(queue_env) == [] and failed_rows(queue_env) == []


def test_soft_timeout_raises_inside_the_job_and_is_retried(queue_env, witness):
    SlowJob.dispatch(str(witness))  # timeout 0.3 s, max_tries 2
    work(queue_env)
    lines = read_lines(witness)
    assert lines == ["start 1", "start 2", "failed JobTimeoutError: SlowJob timed out after 0.3 s"]
    assert failed_rows(queue_env)[0]["exception"].startswith("JobTimeoutError: SlowJob timed out after 0.3 s")


def test_fail_on_timeout_fails_at_the_first_timeout(queue_env, witness):
    SlowJob.dispatch(str(witness), fail_on_timeout=True)
    work(queue_env)
    assert read_lines(witness) == ["start 1", "failed JobTimeoutError: SlowJob timed out after 0.3 s"]


def test_async_job_past_its_timeout_is_cancelled_with_job_timeout_error(queue_env, witness):
    AsyncSlowJob.dispatch(str(witness))
    work(queue_env)
    assert read_lines(witness) == ["failed JobTimeoutError: AsyncSlowJob timed out after 0.3 s"]


def test_worker_timeout_option_applies_when_the_job_sets_none(queue_env, witness):
    from tests.fixtures.jobs import SleepJob

    SleepJob.dispatch(str(witness), 5)
    work(queue_env, timeout=0.3, max_tries=1)
    assert read_lines(witness)[0].startswith("start")
    assert failed_rows(queue_env)[0]["exception"].startswith("JobTimeoutError")


def test_max_jobs_and_once_stop_the_worker(queue_env, witness):
    for i in range(4):
        TaggedRecordJob.dispatch(str(witness), str(i))
    worker = work(queue_env, stop_when_empty=False, max_jobs=2)
    assert worker.jobs_processed == 2 and read_lines(witness) == ["0", "1"]
    from app.Queue.Worker import Worker

    assert Worker(queue_env, WorkerOptions(memory=0, once=True, sleep=0)).run_next_job("database", ["default"]) is True
    assert read_lines(witness) == ["0", "1", "2"]


def test_max_time_stops_an_idle_worker(queue_env):
    from app.Queue.Worker import Worker

    slept: list[float] = []
    worker = Worker(queue_env, WorkerOptions(max_time=0.2, sleep=0.05, memory=0))
    assert worker.daemon("database", ["default"]) == 0
    worker2 = Worker(queue_env, WorkerOptions(max_time=0.1, sleep=0.5, memory=0), sleeper=slept.append)
    assert worker2.daemon("database", ["default"]) == 0
    assert slept and set(slept) == {0.5}


def test_memory_limit_stops_the_worker_with_status_12(queue_env, witness):
    from app.Queue.Worker import Worker

    RecordJob.dispatch(str(witness))
    RecordJob.dispatch(str(witness))
    status = Worker(queue_env, WorkerOptions(memory=1, sleep=0)).daemon("database", ["default"])
    assert status == 12 and len(read_lines(witness)) == 1


def test_rest_pauses_between_jobs(queue_env, witness):
    from app.Queue.Worker import Worker

    slept: list[float] = []
    RecordJob.dispatch(str(witness))
    RecordJob.dispatch(str(witness))
    Worker(queue_env, WorkerOptions(rest=0.25, sleep=0, stop_when_empty=True, memory=0), sleeper=slept.append).daemon("database", ["default"])
    assert slept == [0.25, 0.25]


def test_releases_do_not_count_towards_max_exceptions(queue_env, witness):
    ReleaseThenRaiseJob.dispatch(str(witness), releases=3)
    work(queue_env)
    assert read_lines(witness) == [f"attempt {i}" for i in range(1, 6)] + ["failed exception at 5"]


def test_a_retried_job_gets_a_fresh_max_exceptions_count(queue_env, witness):
    from app.Queue.FailedRetrier import retry_failed

    job_id = MaxExceptionsJob.dispatch(str(witness))
    work(queue_env)
    assert retry_failed(queue_env, [job_id], on_missing=lambda i: None) == 1
    work(queue_env)
    assert read_lines(witness) == ["attempt 1", "attempt 2", "failed exception 2"] * 2


def test_retry_until_datetime_attribute_stops_retries_once_passed(queue_env, witness):
    with freeze_time(T0) as clock:
        DeadlineJob.dispatch(str(witness), (T0 + timedelta(seconds=5)).replace(tzinfo=None))
        work(queue_env, max_tries=1, backoff=(3,))  # retry_until replaces the worker's tries
        clock.tick(3)
        work(queue_env, max_tries=1, backoff=(3,))
        assert read_lines(witness) == ["attempt 1", "attempt 2"] and len(job_rows(queue_env)) == 1
        clock.tick(3)
        work(queue_env, max_tries=1, backoff=(3,))
    assert read_lines(witness) == ["attempt 1", "attempt 2", "failed MaxAttemptsExceededError"]
    assert job_rows(queue_env) == []


def test_define_queue_max_attempts_is_the_default_tries_for_that_queue(queue_env, witness):
    queue_env.define_queue("limited", max_attempts=2)
    PlainFailJob(str(witness)).on_queue("limited").dispatch()
    work(queue_env, ["limited"], max_tries=5)
    assert read_lines(witness) == ["attempt 1", "attempt 2"]
    assert len(failed_rows(queue_env)) == 1


@pytest.mark.parametrize("use_async", [False, True])
def test_a_job_can_dispatch_follow_up_jobs_from_handle(queue_env, witness, use_async):
    from tests.fixtures.core_jobs import FanOutJob

    FanOutJob.dispatch(str(witness), use_async)
    work(queue_env)
    (line,) = read_lines(witness)
    assert line.startswith("child-async " if use_async else "child-sync ")
