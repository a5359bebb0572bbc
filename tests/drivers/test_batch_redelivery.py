"""Batches and chains count each member once when its outcome is reported twice, on every driver.

A worker that crashes after a job's work but before its ack leaves the job reserved; when the
lease expires another worker runs it again and reports the same member a second time. Here
that redelivery is real: the job is reserved, its lease runs out (freezegun moves the one
clock every driver reads), a second reservation takes it, and both copies are settled by a
real worker. Two worker processes finishing the last two members together race on the
batch row; the counters and callbacks must still come out exactly once.
"""
from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time

from app.Jobs.Batch import batch
from app.Jobs.Chain import chain
from app.Models.JobBatch import JobBatch
from app.Queue.Payload import peek_uuid
from app.Queue.Worker import Worker
from app.Queue.WorkerOptions import WorkerOptions
from tests.drivers.batch_support import lines_starting, workers
from tests.drivers.conftest import Backend
from tests.fixtures import batch_jobs as bj
from tests.support import wait_until

LEASE_RUN_OUT = timedelta(seconds=3600)  # far past any retry_after the tests configure


@pytest.fixture
def callbacks_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "callbacks.log"
    monkeypatch.setenv("BATCH_WITNESS", str(path))
    return path


def reserve_all(backend: Backend, worker_id: str) -> dict[str, Any]:
    """Reserve every available job of the default queue, keyed by job uuid."""
    driver, held = backend.driver(), {}
    while (job := driver.pop("default", worker_id)) is not None:
        held[peek_uuid(job.payload)] = job
    return held


def settle(backend: Backend, reserved: Any) -> None:
    Worker(backend.manager, WorkerOptions(sleep=0, memory=0, max_tries=1)).process(backend.connection, reserved)


def counts(batch_id: str) -> tuple[int, int, int, int]:
    found = JobBatch.find(batch_id)
    return found.total_jobs, found.pending_jobs, found.processed_jobs, found.failed_jobs


def test_a_member_that_succeeds_twice_is_counted_once_and_then_fires_once(backend: Backend, witness: Path, callbacks_log: Path):
    with freeze_time() as clock:
        batch_id = (batch([bj.Work(witness, "a"), bj.Work(witness, "b")]).then(bj.on_then).finally_(bj.on_finally)
                    .on_connection(backend.connection).dispatch())
        first = reserve_all(backend, "crashed")
        clock.tick(LEASE_RUN_OUT)  # the worker that holds them died after the work, before the ack
        second = reserve_all(backend, "survivor")
        assert set(first) == set(second) and len(second) == 2
        a, b = second  # a is the member redelivered; b finishes once
        settle(backend, second[b])                       # the other member finishes normally
        settle(backend, first[a])                        # the crashed copy's outcome arrives late ...
        assert counts(batch_id) == (2, 0, 2, 0)
        settle(backend, second[a])                       # ... and the redelivered copy reports it again
    assert counts(batch_id) == (2, 0, 2, 0)
    assert JobBatch.find(batch_id).finished()
    assert lines_starting(callbacks_log, "") == [f"then {batch_id} processed=2 failed=0",
                                                 f"finally {batch_id} pending=0 failed=0"]
    assert backend.manager.size("default", backend.connection) == 0


def test_a_member_that_fails_twice_is_counted_once_and_catch_fires_once(backend: Backend, witness: Path, callbacks_log: Path):
    with freeze_time() as clock:
        batch_id = (batch([bj.Boom(witness, "x"), bj.Work(witness, "ok")]).then(bj.on_then).catch(bj.on_catch)
                    .finally_(bj.on_finally).on_connection(backend.connection).dispatch())
        first = reserve_all(backend, "crashed")
        clock.tick(LEASE_RUN_OUT)
        second = reserve_all(backend, "survivor")
        boom = next(u for u, job in second.items() if "Boom" in job.payload)
        ok = next(u for u in second if u != boom)
        settle(backend, first[boom])
        settle(backend, second[boom])
        settle(backend, second[ok])
    assert counts(batch_id) == (2, 1, 1, 1)
    found = JobBatch.find(batch_id)
    assert found.failed_job_ids == [boom] and found.finished() and found.cancelled()
    assert lines_starting(callbacks_log, "") == [f"catch {batch_id} RuntimeError: boom x",
                                                 f"finally {batch_id} pending=1 failed=1"]
    assert [f.uuid for f in backend.manager.failed.all()] == [boom]


def test_a_chain_step_that_succeeds_twice_queues_its_successor_once(backend: Backend, tmp_path: Path):
    steps = tmp_path / "steps.log"
    with freeze_time() as clock:
        chain([bj.Start(steps), bj.Increment(steps, "2")]).on_connection(backend.connection).dispatch()
        (first,) = reserve_all(backend, "crashed").values()
        clock.tick(LEASE_RUN_OUT)
        (second,) = reserve_all(backend, "survivor").values()
        settle(backend, first)
        settle(backend, second)
        assert backend.manager.size("default", backend.connection) == 1  # step 2, once
        (step2,) = reserve_all(backend, "survivor").values()
        settle(backend, step2)
    lines = steps.read_text().splitlines()
    assert lines[-1] == "step 2 got 1" and lines.count("step 2 got 1") == 1 and set(lines[:-1]) == {"step start"}


@pytest.mark.slow
def test_two_workers_finishing_the_last_two_members_together_count_both_and_fire_once(
        backend: Backend, tmp_path: Path, witness: Path, callbacks_log: Path):
    rounds = 4
    ids = [(batch([bj.Rendezvous(witness, f"g{r}", 2), bj.Rendezvous(witness, f"g{r}", 2)])
            .then(bj.on_then).finally_(bj.on_finally).on_connection(backend.connection).dispatch()) for r in range(rounds)]
    with workers(backend, tmp_path):
        assert wait_until(lambda: len(lines_starting(callbacks_log, "finally")) >= rounds, timeout=60)
        time.sleep(0.3)  # room for a second callback to show up
    assert [counts(i) for i in ids] == [(2, 0, 2, 0)] * rounds
    log = lines_starting(callbacks_log, "")
    for batch_id in ids:
        assert [line for line in log if batch_id in line] == [f"then {batch_id} processed=2 failed=0",
                                                              f"finally {batch_id} pending=0 failed=0"]
    arrived = lines_starting(witness, "arrived")
    assert len(arrived) == 2 * rounds and len({line.split()[2] for line in arrived}) == 2 * rounds
