"""Opt-in results: `store_result = True` keeps handle()'s return value; Job.status(id).result and Job.wait(id)."""
from __future__ import annotations

import logging

import pytest
from freezegun import freeze_time

from app.Jobs.Job import Job, JobState
from app.Queue.Worker import Worker
from app.Queue.WorkerOptions import WorkerOptions
from tests.core_helpers import keep_signal_handlers  # noqa: F401 (autouse fixture)
from tests.drivers.conftest import Backend
from tests.fixtures.result_jobs import RaisingSumJob, SetResultJob, ShortLivedSumJob, SumJob, UnkeptSumJob
from tests.support import start_worker, stop


def work(backend: Backend) -> None:
    Worker(backend.manager, WorkerOptions(stop_when_empty=True, sleep=0, memory=0)).daemon(backend.connection, ["default"])


def test_a_stored_result_is_on_the_status_of_the_completed_job(backend: Backend):
    job_id = SumJob([1, 2, 3]).on_connection(backend.connection).dispatch()
    assert Job.status(job_id).result is None  # pending: nothing yet
    work(backend)
    status = Job.status(job_id)
    assert (status.state, status.result) == (JobState.COMPLETED, {"sum": 6, "count": 3})


def test_a_job_that_does_not_opt_in_keeps_no_result(backend: Backend):
    job_id = UnkeptSumJob([1, 2]).on_connection(backend.connection).dispatch()
    work(backend)
    status = Job.status(job_id)
    assert (status.state, status.result) == (JobState.COMPLETED, None)


def test_a_result_expires_after_result_ttl(backend: Backend):
    with freeze_time("2026-01-01 00:00:00") as clock:
        job_id = ShortLivedSumJob([4]).on_connection(backend.connection).dispatch()
        work(backend)
        assert Job.status(job_id).result == {"sum": 4, "count": 1}
        clock.tick(2)
        assert Job.status(job_id).result is None


def test_a_result_json_cannot_hold_is_not_stored_and_the_job_still_completes(backend: Backend, caplog):
    job_id = SetResultJob([1]).on_connection(backend.connection).dispatch()
    with caplog.at_level(logging.WARNING, logger="queue.job"):
        work(backend)
    status = Job.status(job_id)
    assert (status.state, status.result) == (JobState.COMPLETED, None)
    assert any("not JSON-serialisable" in r.getMessage() for r in caplog.records)


def test_wait_blocks_until_a_real_worker_finishes_the_job(backend: Backend, tmp_path):
    job_id = SumJob([5, 6], pause=0.3).on_connection(backend.connection).dispatch()
    worker = start_worker([backend.connection, "--sleep=0.05"], env=backend.env, log=tmp_path / "worker.log")
    try:
        status = Job.wait(job_id, timeout=30)
    finally:
        stop(worker)
    assert (status.state, status.result) == (JobState.COMPLETED, {"sum": 11, "count": 2})


def test_wait_returns_a_failed_job_with_its_error(backend: Backend):
    job_id = RaisingSumJob([1]).on_connection(backend.connection).dispatch()
    work(backend)
    status = Job.wait(job_id, timeout=5)
    assert status.state is JobState.FAILED and "no numbers today" in status.error


def test_wait_times_out_with_the_state_it_saw(backend: Backend):
    job_id = SumJob([1]).on_connection(backend.connection).dispatch()
    with pytest.raises(TimeoutError, match=rf"job {job_id} did not finish within 0.2 s \(state: pending\)"):
        Job.wait(job_id, timeout=0.2)


def test_wait_for_an_unknown_job_fails_at_once(backend: Backend):
    with pytest.raises(LookupError, match="no job 'nope' is known"):
        Job.wait("nope", timeout=30)
