"""Batch reservation (`queue:work --prefetch=N`): the same guarantees as one job at a time, on every driver.

Jobs reserved ahead are not started, so their attempts are not counted until each one
begins; a worker that stops hands them back untouched, and one that dies leaves them to
come back when their leases expire, with their attempts unchanged.
"""
from __future__ import annotations

import logging
from pathlib import Path

import pytest
from freezegun import freeze_time

from app.Queue.contracts import ReserveMany
from app.Queue.Worker import Worker
from app.Queue.WorkerOptions import WorkerOptions
from tests.conftest import read_lines
from tests.drivers.conftest import Backend
from tests.fixtures.jobs import FailingJob, RecordJob, StopWorkerJob

WORKER = "prefetch-worker"


def _driver(backend: Backend) -> ReserveMany:
    driver = backend.driver()
    assert isinstance(driver, ReserveMany), f"{backend.name} cannot reserve jobs in batches"
    return driver


def _sync(driver: object) -> None:
    """Wait for the replies of writes a driver pipelines (Redis), so their effects and warnings are visible."""
    lane = getattr(driver, "lane", None)
    if lane is not None:
        lane.sync()


def test_pop_many_reserves_up_to_the_limit_from_the_first_non_empty_queue(backend: Backend):
    d = _driver(backend)
    for i in range(5):
        d.push(f'"low{i}"', "low")
    d.push('"high-a"', "high", priority=1)
    d.push('"high-b"', "high", priority=9)
    jobs = d.pop_many(["empty", "high", "low"], WORKER, 10)
    assert [j.payload for j in jobs] == ['"high-b"', '"high-a"']  # one queue per batch, priority order
    jobs = d.pop_many(["high", "low"], WORKER, 3)
    assert [j.payload for j in jobs] == ['"low0"', '"low1"', '"low2"']
    assert all(j.attempts == 0 for j in jobs)  # reserved, not started: no attempt counted yet
    assert (d.sizes("low").reserved, d.sizes("low").pending) == (3, 2)
    assert d.pop_many(["empty"], WORKER, 3) == []


def test_begin_counts_the_attempt_renews_the_lease_and_acks_the_finished_job(backend: Backend):
    d = _driver(backend)
    with freeze_time() as clock:
        for i in range(2):
            d.push(f'"{i}"', "default")
        first, second = d.pop_many(["default"], WORKER, 2)
        first.begin()
        assert first.attempts == 1
        clock.tick(first.retry_after * 0.75)
        second.begin(first)  # acks `first` in the same call
        _sync(d)
        clock.tick(first.retry_after * 0.5)  # past the batch's first lease, within second's renewed one
        assert second.attempts == 1
        assert d.pop("default", "other-worker") is None
        assert d.sizes("default").total == 1
        assert second.delete() is True
        assert d.sizes("default").total == 0


def test_jobs_held_by_a_dead_worker_come_back_with_their_attempts_unchanged(backend: Backend):
    d = _driver(backend)
    with freeze_time() as clock:
        for i in range(3):
            d.push(f'"{i}"', "default")
        started, *held = d.pop_many(["default"], WORKER, 3)
        started.begin()
        _sync(d)
        clock.tick(started.retry_after + 2)  # the worker died: every lease lapses
        back = [d.pop("default", "other-worker") for _ in range(3)]
    assert sorted((j.payload, j.attempts) for j in back) == [('"0"', 2), ('"1"', 1), ('"2"', 1)]


def test_beginning_a_job_whose_reservation_was_lost_is_reported(backend: Backend, caplog: pytest.LogCaptureFixture):
    d = _driver(backend)
    with freeze_time() as clock:
        d.push('"x"', "default")
        (stale,) = d.pop_many(["default"], WORKER, 1)
        clock.tick(stale.retry_after + 2)
        fresh = d.pop("default", "other-worker")
        with caplog.at_level(logging.WARNING):
            stale.begin()
            d.pop_many(["default"], WORKER, 1)  # Redis reports lost reservations with the next batch
        assert "before they started" in caplog.text or "before it started" in caplog.text
        assert fresh.delete() is True  # the new holder was not disturbed


def test_worker_with_prefetch_runs_every_job_once(backend: Backend, witness: Path):
    ids = [RecordJob(str(witness), f"j{i}").dispatch() for i in range(25)]
    worker = Worker(backend.manager, WorkerOptions(memory=0, prefetch=10, stop_when_empty=True, sleep=0.01))
    assert worker.daemon(backend.connection, ["default"]) == 0
    lines = read_lines(witness)
    assert sorted(lines) == sorted(f"j{i} {job_id} 1" for i, job_id in enumerate(ids))
    assert [line.split()[0] for line in lines] == [f"j{i}" for i in range(25)]  # FIFO kept across batches
    assert backend.manager.size("default", backend.connection) == 0


def test_worker_stopping_hands_back_the_jobs_it_held_without_using_attempts(backend: Backend, witness: Path):
    for i in range(8):
        RecordJob(str(witness), f"j{i}").dispatch()
    worker = Worker(backend.manager, WorkerOptions(memory=0, prefetch=5, max_jobs=2, sleep=0.01))
    assert worker.daemon(backend.connection, ["default"]) == 0
    assert [line.split()[0] for line in read_lines(witness)] == ["j0", "j1"]
    d = _driver(backend)
    assert d.sizes("default").reserved == 0
    left = d.pop_many(["default"], WORKER, 10)
    assert len(left) == 6 and all(j.attempts == 0 for j in left)


def test_sigterm_hands_back_a_batch_reserved_ahead_too(backend: Backend, witness: Path):
    RecordJob(str(witness), "j0").dispatch()
    StopWorkerJob(str(witness), "j1").dispatch()  # the last of the first batch: the next is reserved as it starts
    for i in range(2, 6):
        RecordJob(str(witness), f"j{i}").dispatch()
    worker = Worker(backend.manager, WorkerOptions(memory=0, prefetch=2, sleep=0.01))
    assert worker.daemon(backend.connection, ["default"]) == 0
    assert [line.split()[0] for line in read_lines(witness)] == ["j0", "j1"]
    d = _driver(backend)
    assert d.sizes("default").reserved == 0
    left = d.pop_many(["default"], WORKER, 10)
    assert len(left) == 4 and all(j.attempts == 0 for j in left)


def test_a_failing_job_in_a_batch_is_failed_and_the_rest_still_run(backend: Backend, witness: Path):
    RecordJob(str(witness), "before").dispatch()
    bad = FailingJob(str(witness))
    bad.max_tries = 1
    bad_id = bad.dispatch()
    RecordJob(str(witness), "after").dispatch()
    worker = Worker(backend.manager, WorkerOptions(memory=0, prefetch=10, stop_when_empty=True, sleep=0.01))
    worker.daemon(backend.connection, ["default"])
    lines = read_lines(witness)
    assert [line.split()[0] for line in lines if line.split()[0] in ("before", "after")] == ["before", "after"]
    assert "attempt 1" in lines and any(line.startswith("failed RuntimeError") for line in lines)
    assert [r.uuid for r in backend.manager.failed.all()] == [bad_id]
    assert backend.manager.size("default", backend.connection) == 0


def test_a_held_job_waiting_past_half_its_lease_is_renewed_or_skipped_if_lost(backend: Backend, witness: Path,
                                                                              caplog: pytest.LogCaptureFixture):
    d = _driver(backend)
    ids = [RecordJob(str(witness), f"j{i}").dispatch() for i in range(3)]
    source = Worker(backend.manager, WorkerOptions(memory=0, prefetch=3, sleep=0.01))._choose_source(d, 3)
    with freeze_time() as clock, caplog.at_level(logging.WARNING):
        first = source.next_job(["default"], 0.01)
        assert first is not None and first.attempts == 1
        assert first.delete() is True
        lease = first.retry_after
        clock.tick(lease * 0.6)
        second = source.next_job(["default"], 0.01)
        assert second is not None and ids[1] in second.payload  # renewed before it started
        _sync(d)
        clock.tick(lease * 0.6)  # the third job's lease has lapsed while it waited
        taken = d.pop("default", "other-worker")
        assert taken is not None and ids[2] in taken.payload  # ...and another worker took it
        assert source.next_job(["default"], 0.01) is None
    assert "lost its reservation while waiting" in caplog.text
