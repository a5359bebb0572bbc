"""Batches on every backend with two concurrent worker processes: counts and callbacks exactly once."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from app.Jobs.Batch import batch
from app.Models.JobBatch import JobBatch
from tests.drivers.batch_support import lines_starting, workers
from tests.drivers.conftest import Backend
from tests.drivers.conftest import cluster_backend
from tests.fixtures import batch_jobs as bj
from tests.support import wait_until

backend = cluster_backend  # this file also runs on a Redis Cluster (id "redis-cluster")


@pytest.fixture
def callbacks_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "callbacks.log"
    monkeypatch.setenv("BATCH_WITNESS", str(path))
    return path


def _finished(batch_id: str, log: Path, callbacks: int) -> bool:
    found = JobBatch.find(batch_id)
    return bool(found and found.finished()) and len(lines_starting(log, "")) >= callbacks


@pytest.mark.slow
def test_two_hundred_jobs_count_once_and_each_callback_runs_once(backend: Backend, tmp_path: Path, callbacks_log: Path, witness: Path):
    jobs = [bj.Work(witness, f"w{i}") for i in range(198)] + [bj.AddMore(witness, 2)]
    batch_id = (batch(jobs).name("big").then(bj.on_then).then(bj.CallbackJob("then")).catch(bj.on_catch)
                .finally_(bj.on_finally).finally_(bj.on_anything).on_connection(backend.connection).dispatch())
    with workers(backend, tmp_path):
        assert wait_until(lambda: _finished(batch_id, callbacks_log, 4), timeout=60)
        time.sleep(0.5)  # room for a duplicate callback to show up
    found = JobBatch.find(batch_id)
    assert (found.total_jobs, found.pending_jobs, found.processed_jobs, found.failed_jobs) == (201, 0, 201, 0)
    assert found.progress() == 100.0 and found.finished() and not found.cancelled()
    ran = lines_starting(witness, "ran")
    assert len(ran) == 200 and len({line.split()[2] for line in ran}) == 200
    assert sorted(lines_starting(callbacks_log, "")) == sorted([
        f"then {batch_id} processed=201 failed=0", "callback-job then",
        f"finally {batch_id} pending=0 failed=0", "no-args"])


@pytest.mark.slow
def test_failures_within_and_beyond_the_allowance_and_a_cancel(backend: Backend, tmp_path: Path, callbacks_log: Path, witness: Path):
    conn = backend.connection
    within = (batch([bj.Boom(witness, "w1"), bj.Boom(witness, "w2")] + [bj.Work(witness, f"in{i}") for i in range(8)])
              .allow_failures(2).then(bj.on_then).catch(bj.on_catch).finally_(bj.on_finally).on_connection(conn).dispatch())
    beyond = (batch([bj.Boom(witness, "b1"), bj.Boom(witness, "b2")] + [bj.Work(witness, f"out{i}", 0.05) for i in range(30)])
              .allow_failures(1).then(bj.on_then).catch(bj.on_catch).catch(bj.on_catch_exception_only)
              .finally_(bj.on_finally).on_connection(conn).dispatch())
    cancelled = (batch([bj.Work(witness, f"c{i}", 0.05) for i in range(40)]).then(bj.on_then).finally_(bj.on_finally)
                 .on_connection(conn).dispatch())
    with workers(backend, tmp_path):
        assert wait_until(lambda: len(lines_starting(witness, "ran c")) >= 3, timeout=60)
        JobBatch.find(cancelled).cancel()
        assert wait_until(lambda: all(JobBatch.find(b).finished() for b in (within, beyond, cancelled)), timeout=60)
        assert wait_until(lambda: len(lines_starting(callbacks_log, "finally")) == 3, timeout=10)
        time.sleep(0.3)
    log = lines_starting(callbacks_log, "")
    w = JobBatch.find(within)
    assert (w.failed_jobs, w.pending_jobs, w.processed_jobs, w.cancelled()) == (2, 2, 8, False)
    assert len(w.failed_job_ids) == 2 and all(backend.manager.failed.find(i) for i in w.failed_job_ids)
    assert [line for line in log if within in line] == [f"then {within} processed=8 failed=2", f"finally {within} pending=2 failed=2"]
    b = JobBatch.find(beyond)
    assert b.cancelled() and b.failed_jobs == 2 and b.pending_jobs == 2 and b.processed_jobs == 30
    caught = [line for line in log if beyond in line]
    assert len(caught) == 2 and caught[1] == f"finally {beyond} pending=2 failed=2"
    second = caught[0].rsplit(" ", 1)[1]  # whichever Boom was recorded second is the failure beyond the allowance
    assert caught[0] == f"catch {beyond} RuntimeError: boom {second}" and second in ("b1", "b2")
    assert lines_starting(callbacks_log, "catch-exc") == [f"catch-exc boom {second}"]
    assert len(lines_starting(witness, "ran out")) < 30  # the rest skipped
    c = JobBatch.find(cancelled)
    assert c.cancelled() and c.pending_jobs == 0 and len(lines_starting(witness, "ran c")) < 40
    assert [line for line in log if cancelled in line] == [f"finally {cancelled} pending=0 failed=0"]


@pytest.mark.slow
def test_sigkilled_worker_mid_batch_still_ends_with_right_counts_and_one_finally(backend: Backend, tmp_path: Path, callbacks_log: Path, witness: Path):
    batch_id = (batch([bj.Work(witness, f"k{i}", 0.15) for i in range(24)]).then(bj.on_then).finally_(bj.on_finally)
                .on_connection(backend.connection).dispatch())
    with workers(backend, tmp_path, retry_after=2) as procs:
        assert wait_until(lambda: len(lines_starting(witness, "ran")) >= 4, timeout=30)
        os.killpg(procs[0].pid, signal.SIGKILL)
        procs[0].wait(5)
        assert wait_until(lambda: _finished(batch_id, callbacks_log, 2), timeout=60)
        time.sleep(0.3)
    found = JobBatch.find(batch_id)
    assert (found.total_jobs, found.pending_jobs, found.processed_jobs, found.failed_jobs) == (24, 0, 24, 0)
    assert len({line.split()[2] for line in lines_starting(witness, "ran")}) == 24
    assert lines_starting(callbacks_log, "") == [f"then {batch_id} processed=24 failed=0", f"finally {batch_id} pending=0 failed=0"]
