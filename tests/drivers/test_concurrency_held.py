"""`queue:work --concurrency=N --prefetch=M`: jobs held ahead for the slots, on every backend.

On Redis a slot thread whose job ends takes the next held job itself and starts it on its own
connection (HeldForSlots); on databases the main thread starts every job. Either way a held job
counts no attempt until it starts, a SIGTERM finishes the jobs in flight and hands back the
held ones untouched, a SIGKILL loses none (each attempt is counted once), and --max-jobs holds.
"""
from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest

from app.Queue.Concurrency.ConcurrentWorker import ConcurrentWorker
from app.Queue.Concurrency.SlotsTakeHeldJobs import SlotsTakeHeldJobs
from app.Queue.contracts import ReserveMany
from app.Queue.Reservations.HeldForSlots import HeldForSlots
from app.Queue.Worker import Worker
from app.Queue.WorkerOptions import WorkerOptions
from tests.conftest import read_lines
from tests.drivers.batch_support import lines_starting
from tests.drivers.conftest import Backend
from tests.fixtures.concurrency_jobs import AsyncSleepSpanJob, GatedSpanJob, SleepSpanJob, intervals, max_overlap
from tests.fixtures.jobs import RecordJob
from tests.support import start_worker, stop, wait_until

pytestmark = pytest.mark.slow


def _worker(backend: Backend, args: list[str], tmp_path: Path, retry_after: int = 30, name: str = "worker"):
    env = {**backend.env, "QUEUE_RETRY_AFTER": str(retry_after)}
    return start_worker([backend.connection, "--sleep=0.05", *args], env=env, log=tmp_path / f"{name}.log")


def _begins(path: Path) -> list[tuple[str, int]]:
    """(uuid, attempt) of each `begin <tag> <uuid> <attempt>` line."""
    return [(line.split()[2], int(line.split()[3])) for line in lines_starting(path, "begin ")]


def _sizes(backend: Backend):
    backend.manager.reset()
    return backend.driver().sizes("default")


def _left_unstarted(backend: Backend, count: int) -> list[int]:
    """The attempts of the jobs left in the queue (reserved by a test worker to look at them)."""
    driver = backend.driver()
    assert isinstance(driver, ReserveMany)
    return [job.attempts for job in driver.pop_many(["default"], "test-reader", count + 5)]


def test_a_freed_slot_starts_the_next_held_job_itself_where_its_thread_has_a_connection(
        backend: Backend, witness: Path, monkeypatch: pytest.MonkeyPatch):
    ids = [SleepSpanJob.dispatch(str(witness), 0.05) for _ in range(18)]
    ids += [AsyncSleepSpanJob.dispatch(str(witness), 0.05) for _ in range(4)]  # an async job taken by a slot too
    taken_on: list[str] = []
    take = SlotsTakeHeldJobs._take

    def spy(self: SlotsTakeHeldJobs, slot):
        job = take(self, slot)
        if job is not None:
            taken_on.append(threading.current_thread().name)
        return job

    monkeypatch.setattr(SlotsTakeHeldJobs, "_take", spy)
    worker = Worker(backend.manager, WorkerOptions(concurrency=3, prefetch=6, stop_when_empty=True, sleep=0.05))
    assert worker.daemon(backend.connection, ["default"]) == 0
    assert sorted(_begins(witness)) == sorted((i, 1) for i in ids)  # each once, with its one attempt
    assert max_overlap(list(intervals(read_lines(witness)).values())) <= 3
    assert _sizes(backend).total == 0
    if backend.name == "redis":
        assert taken_on and all(name.startswith("queue-slot-") for name in taken_on)
    else:
        assert taken_on == []  # the main thread starts every job (one connection, SQLite's one writer)


def test_the_source_chosen_lets_slots_take_held_jobs_only_where_threads_have_connections(backend: Backend):
    source = ConcurrentWorker(backend.manager, WorkerOptions(concurrency=4, prefetch=8))._choose_source(
        backend.driver(), 8)
    assert isinstance(source, HeldForSlots) == (backend.name == "redis")


def test_sigterm_finishes_the_jobs_in_flight_and_hands_back_the_held_ones_unstarted(
        backend: Backend, tmp_path: Path, witness: Path):
    ids = [SleepSpanJob.dispatch(str(witness), 1.0) for _ in range(16)]
    proc = _worker(backend, ["--concurrency=2", "--prefetch=6"], tmp_path)
    try:
        assert wait_until(lambda: len(_begins(witness)) >= 3, 30)  # a slot has started a held job after its first
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, (tmp_path / "worker.log").read_text()
    finally:
        stop(proc)
    begun = {uuid for uuid, _ in _begins(witness)}
    assert set(intervals(read_lines(witness))) == begun and begun < set(ids)  # every job begun also finished
    sizes = _sizes(backend)
    assert (sizes.pending, sizes.reserved) == (16 - len(begun), 0)
    assert _left_unstarted(backend, 16) == [0] * (16 - len(begun))  # held, handed back: no attempt used


def test_sigkill_with_jobs_in_flight_and_held_loses_none_and_counts_each_attempt_once(
        backend: Backend, tmp_path: Path, witness: Path):
    ids = [SleepSpanJob.dispatch(str(witness), 1.0) for _ in range(10)]
    proc = _worker(backend, ["--concurrency=2", "--prefetch=6"], tmp_path, retry_after=2)
    try:
        assert wait_until(lambda: len(_begins(witness)) >= 3, 30)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        stop(proc)
    proc = _worker(backend, ["--concurrency=2", "--prefetch=6"], tmp_path, retry_after=2, name="second")
    try:
        assert wait_until(lambda: set(intervals(read_lines(witness))) == set(ids), 60)
        assert wait_until(lambda: _sizes(backend).total == 0, 30)
    finally:
        assert stop(proc) == 0
    firsts = []
    for uuid in ids:  # each attempt counted once: no attempt number twice, none skipped
        attempts = [attempt for job, attempt in _begins(witness) if job == uuid]
        assert attempts == list(range(attempts[0], attempts[0] + len(attempts))), (uuid, attempts)
        firsts.append(attempts[0])
    # A job held at the kill counts no attempt: it starts at 1. Only a job whose start (BEGIN) was made just
    # before the kill, before its code wrote a line, starts at 2: at most one per slot.
    assert set(firsts) <= {1, 2} and firsts.count(2) <= 2, firsts


def test_max_jobs_counts_the_jobs_slots_start_themselves(backend: Backend, witness: Path):
    for i in range(12):
        RecordJob.dispatch(str(witness), f"r{i}")
    worker = Worker(backend.manager, WorkerOptions(concurrency=4, prefetch=8, max_jobs=5, sleep=0.05))
    assert worker.daemon(backend.connection, ["default"]) == 0
    assert len(read_lines(witness)) == 5
    sizes = _sizes(backend)
    assert (sizes.pending, sizes.reserved) == (7, 0)
    assert _left_unstarted(backend, 7) == [0] * 7


def test_a_held_job_keeps_its_lease_while_every_slot_is_busy(backend: Backend, tmp_path: Path, witness: Path):
    gates = [tmp_path / f"gate{i}" for i in range(2)]
    gated = [GatedSpanJob(str(witness), str(gate)).dispatch() for gate in gates]
    held = [RecordJob.dispatch(str(witness), f"held{i}") for i in range(2)]  # reserved with the first two, held
    proc = _worker(backend, ["--concurrency=2", "--prefetch=4", "--stop-when-empty"], tmp_path, retry_after=2)
    try:
        assert wait_until(lambda: len(_begins(witness)) == 2, 30)
        time.sleep(3.0)  # longer than a lease: unrenewed, the held jobs would be free for any worker to take
        backend.manager.reset()
        assert backend.driver().pop("default", "another-worker") is None
        for gate in gates:
            gate.touch()
        assert proc.wait(60) == 0, (tmp_path / "worker.log").read_text()
    finally:
        for gate in gates:
            gate.touch()
        stop(proc)
    assert sorted(uuid for uuid, _ in _begins(witness)) == sorted(gated)
    assert sorted(line for line in read_lines(witness) if line.startswith("held")) == sorted(
        f"held{i} {uuid} 1" for i, uuid in enumerate(held))  # each ran once, on its first attempt
    assert _sizes(backend).total == 0
