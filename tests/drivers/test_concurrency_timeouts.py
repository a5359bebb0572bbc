"""Timeouts under `--concurrency`: async jobs are cancelled; a thread that cannot be stopped is given up.

A `def handle` job still running at its timeout has its attempt counted as timed out
(released, or failed on its last try), its thread retired and replaced, and whatever it
does afterwards ignored. When half the slots are stuck so, the worker finishes the other
jobs and exits 1 to be restarted.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from app.Jobs.JobState import JobState
from app.Queue.Worker import Worker
from app.Queue.WorkerOptions import WorkerOptions
from tests.conftest import read_lines
from tests.drivers.batch_support import lines_starting
from tests.drivers.conftest import Backend
from tests.fixtures.concurrency_jobs import (AsyncSleepSpanJob, IgnoresCancelAsyncJob, SleepSpanJob, SlowAsyncJob,
                                             StuckThreadJob, intervals)
from tests.fixtures.jobs import RecordJob
from tests.support import wait_until

pytestmark = pytest.mark.slow


def _failed_text(backend: Backend) -> str:
    rows = backend.manager.failed.all()
    assert len(rows) == 1
    row = rows[0]
    return str(row["exception"] if isinstance(row, dict) else row.exception)


def test_a_thread_past_its_timeout_is_given_up_retried_then_failed_and_its_late_end_ignored(backend: Backend,
                                                                                             witness: Path):
    stuck = StuckThreadJob.dispatch(str(witness), 2.5)  # timeout 1 s, max_tries 2
    ok = [RecordJob.dispatch(str(witness), f"ok{i}") for i in range(4)]
    worker = Worker(backend.manager, WorkerOptions(concurrency=8, stop_when_empty=True, sleep=0.05))
    assert worker.daemon(backend.connection, ["default"]) == 0
    assert [line.split()[3] for line in lines_starting(witness, "start stuck")] == ["1", "2"]
    assert lines_starting(witness, "failed stuck") == [f"failed stuck {stuck} JobTimeoutError"]
    assert "given up" in _failed_text(backend)
    assert len([line for line in read_lines(witness) if line.startswith("ok")]) == len(ok)
    assert wait_until(lambda: len(lines_starting(witness, "late stuck")) == 2, 10)  # the threads ran on...
    assert backend.manager.statuses.get(stuck).state == JobState.FAILED            # ...and changed nothing
    assert len(backend.manager.failed.all()) == 1


def test_when_half_the_slots_are_stuck_the_worker_finishes_the_rest_and_exits_1(backend: Backend, witness: Path):
    stuck = StuckThreadJob.dispatch(str(witness), 8.0)  # still stuck when the worker counts, however loaded the box
    other = SleepSpanJob.dispatch(str(witness), 1.5)
    worker = Worker(backend.manager, WorkerOptions(concurrency=2, sleep=0.05))
    assert worker.daemon(backend.connection, ["default"]) == 1
    assert other in intervals(read_lines(witness))  # finished, not cut off
    backend.manager.reset()
    sizes = backend.driver().sizes("default")
    assert (sizes.total, sizes.reserved) == (1, 0)  # the stuck job was released for its second try
    assert backend.manager.statuses.get(stuck).state == JobState.RETRYING


def test_an_async_job_past_its_timeout_is_cancelled_and_fails_with_job_timeout(backend: Backend, witness: Path):
    slow = SlowAsyncJob.dispatch(str(witness))  # timeout 1 s, max_tries 1
    quick = [AsyncSleepSpanJob.dispatch(str(witness), 0.2) for _ in range(3)]
    worker = Worker(backend.manager, WorkerOptions(concurrency=4, stop_when_empty=True, sleep=0.05))
    assert worker.daemon(backend.connection, ["default"]) == 0
    assert lines_starting(witness, "cancelled slow-async") == [f"cancelled slow-async {slow}"]
    assert lines_starting(witness, "failed slow-async") == [f"failed slow-async {slow} JobTimeoutError"]
    assert "timed out after 1 s" in _failed_text(backend)
    assert set(intervals(read_lines(witness))) == set(quick)


def test_an_async_job_that_ignores_its_cancellation_is_given_up_after_the_grace(backend: Backend, witness: Path):
    job = IgnoresCancelAsyncJob.dispatch(str(witness), 2.5)
    quick = [AsyncSleepSpanJob.dispatch(str(witness), 0.2) for _ in range(3)]
    worker = Worker(backend.manager, WorkerOptions(concurrency=4, stop_when_empty=True, sleep=0.05,
                                                   hard_timeout_grace=0.5))
    assert worker.daemon(backend.connection, ["default"]) == 0
    assert lines_starting(witness, "ignored cancel") == [f"ignored cancel {job}"]
    assert lines_starting(witness, "failed ignores-cancel") == [f"failed ignores-cancel {job} JobTimeoutError"]
    assert "ignored its cancellation" in _failed_text(backend)
    assert set(intervals(read_lines(witness))) == set(quick)
