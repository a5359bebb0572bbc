"""The worker's job sources (app/Queue/Reservations/), each over every real driver: what it reserves,
when an ack reaches the store, and what it hands back when the worker stops."""
from __future__ import annotations

from typing import Any, Sequence

import pytest

from app.Queue.contracts import AckAndReserve, JobSource, ReservedJob, ReserveMany
from app.Queue.Reservations import AckReservesNext, BatchReservations, OneAtATime
from app.Queue.Worker import Worker
from app.Queue.WorkerOptions import WorkerOptions
from tests.drivers.conftest import Backend

WORKER = "source-worker"


def _sync(driver: object) -> None:
    """Push out the writes a driver sends without a reply (Redis: corked on its lane) and wait until applied."""
    lane = getattr(driver, "lane", None)
    if lane is not None:
        lane.execute("PING")  # a command with a reply uncorks the lane and comes after every write before it


def _push(driver: Any, queue: str, *names: str) -> None:
    for name in names:
        driver.push(f'"{name}"', queue)


def _counts(driver: Any, queue: str) -> tuple[int, int]:
    _sync(driver)
    sizes = driver.sizes(queue)
    return sizes.pending, sizes.reserved


def test_one_at_a_time_takes_the_first_non_empty_queue_and_acks_on_finish(backend: Backend):
    d = backend.driver()
    _push(d, "low", "low-1")
    _push(d, "high", "high-1")
    source = OneAtATime(d, WORKER)
    job = source.next_job(["empty", "high", "low"], 0)
    assert job is not None and job.payload == '"high-1"' and job.attempts == 1
    assert _counts(d, "high") == (0, 1)
    source.finished(job, ["high", "low"])
    assert _counts(d, "high") == (0, 0)
    job = source.next_job(["empty", "high", "low"], 0)
    assert job is not None and job.payload == '"low-1"'
    source.finished(job, ())
    assert source.next_job(["empty", "high", "low"], 0) is None
    source.close()
    assert _counts(d, "low") == (0, 0)


def test_the_ack_reserves_the_next_job_and_an_unused_one_goes_back_without_an_attempt(backend: Backend):
    d = backend.driver()
    assert isinstance(d, AckAndReserve), f"{backend.name} declares no ack-and-reserve"
    _push(d, "default", "a", "b", "c")
    source = AckReservesNext(d, d, WORKER)
    first = source.next_job(["default"], 0)
    assert first is not None and first.payload == '"a"'
    source.finished(first, ["default"])  # acks "a" and reserves "b" in the same call
    assert _counts(d, "default") == (1, 1)
    second = source.next_job([], 0)  # handed out without another reservation
    assert second is not None and second.payload == '"b"' and second.attempts == 1
    source.finished(second, ())  # no next job wanted: a plain ack
    assert _counts(d, "default") == (1, 0)
    third = source.next_job(["default"], 0)
    assert third is not None
    source.finished(third, ["default"])  # nothing left to reserve with it
    assert _counts(d, "default") == (0, 0)
    _push(d, "default", "d", "e")
    fourth = source.next_job(["default"], 0)
    assert fourth is not None
    source.finished(fourth, ["default"])  # reserves "e", then the worker stops
    source.close()
    assert _counts(d, "default") == (1, 0)
    again = d.pop("default", "other-worker")
    assert again is not None and again.payload == '"e"' and again.attempts == 1  # the unused reservation counted nothing


def test_a_batch_counts_each_attempt_as_it_starts_and_sends_the_ack_with_the_next_start(backend: Backend):
    d = backend.driver()
    assert isinstance(d, ReserveMany), f"{backend.name} cannot reserve jobs in batches"
    _push(d, "default", "a", "b", "c", "d", "e")
    source = BatchReservations(d, WORKER, 3, lambda running, held: 3, lambda: True)  # stopping: nothing reserved ahead
    first = source.next_job(["default"], 0)
    assert first is not None and first.payload == '"a"' and first.attempts == 1
    assert _counts(d, "default") == (2, 3)  # one batch of three
    source.finished(first, ["default"])
    assert _counts(d, "default") == (2, 3)  # the ack is owed to the next start...
    second = source.next_job(["default"], 0)
    assert second is not None and second.payload == '"b"' and second.attempts == 1
    assert _counts(d, "default") == (2, 2)  # ...which sent it
    source.finished(second, ["default"])
    source.close()  # "c" was held, never started: back with no attempt; the owed ack goes out
    assert _counts(d, "default") == (3, 0)
    rest = [d.pop("default", "other-worker") for _ in range(3)]
    assert sorted((j.payload, j.attempts) for j in rest if j is not None) == [('"c"', 1), ('"d"', 1), ('"e"', 1)]


def test_a_held_job_of_a_queue_no_longer_worked_is_handed_back(backend: Backend):
    d = backend.driver()
    assert isinstance(d, ReserveMany)
    _push(d, "paused", "p1", "p2", "p3")
    _push(d, "other", "o1")
    source = BatchReservations(d, WORKER, 3, lambda running, held: 3, lambda: True)
    started = source.next_job(["paused", "other"], 0)
    assert started is not None and started.payload == '"p1"'
    source.finished(started, ["other"])
    job = source.next_job(["other"], 0)  # "paused" was paused meanwhile
    assert job is not None and job.payload == '"o1"'
    assert _counts(d, "paused") == (2, 0)  # p2, p3 handed back; p1's ack went out before o1's reservation
    source.finished(job, ())
    source.close()
    assert _counts(d, "other") == (0, 0)


class _HeldDuringTheWait:
    """The worker's own source, with horizon's hold (SIGUSR2) arriving while it waited for a job."""

    def __init__(self, inner: JobSource, worker: Worker) -> None:
        self.inner = inner
        self.worker = worker
        self.waits = inner.waits

    def next_job(self, queues: Sequence[str], wait: float) -> ReservedJob | None:
        job = self.inner.next_job(queues, wait)
        self.worker.signals.hold()
        return job

    def finished(self, job: ReservedJob, queues: Sequence[str]) -> None:
        self.inner.finished(job, queues)

    def close(self) -> None:
        self.inner.close()


@pytest.mark.parametrize("prefetch", [1, 3])
def test_a_job_taken_as_horizon_holds_the_worker_goes_back_without_an_attempt(backend: Backend, prefetch: int):
    d = backend.driver()
    _push(d, "default", "taken")
    worker = Worker(backend.manager, WorkerOptions(memory=0, prefetch=prefetch, sleep=0.01))
    worker.source = _HeldDuringTheWait(worker._choose_source(d, prefetch), worker)
    active, job = worker._next_job(backend.connection, ["default"])
    assert active == ["default"] and job is None  # not run: handed back
    worker.source.close()
    assert _counts(d, "default") == (1, 0)
    again = d.pop("default", "other-worker")
    assert again is not None and again.payload == '"taken"' and again.attempts == 1  # the held worker's counted nothing
