"""Who claims under `--concurrency`: on Redis each slot thread claims, runs and acks its own jobs
(ClaimingWorker); on databases, and under --prefetch, the main thread reserves for every slot.

Whichever it is, a mixed queue (def and async def jobs) runs every job once with one attempt,
async jobs claimed in batches are all acked by the time the worker exits, and --max-jobs holds.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from app.Queue.Concurrency.ClaimingWorker import ClaimingWorker
from app.Queue.Concurrency.ConcurrentWorker import ConcurrentWorker
from app.Queue.Reservations.SlotSources import per_slot
from app.Queue.Worker import Worker
from app.Queue.WorkerOptions import WorkerOptions
from tests.conftest import read_lines
from tests.drivers.batch_support import lines_starting
from tests.drivers.conftest import Backend
from tests.fixtures.concurrency_jobs import AsyncSleepSpanJob, SleepSpanJob, intervals
from tests.support import start_worker

pytestmark = pytest.mark.slow


def _begins(path: Path) -> list[tuple[str, int]]:
    """(uuid, attempt) of each `begin <tag> <uuid> <attempt>` line."""
    return [(line.split()[2], int(line.split()[3])) for line in lines_starting(path, "begin ")]


def test_redis_slots_claim_their_own_jobs_and_databases_keep_the_main_thread_reserving(backend: Backend):
    claims = per_slot(backend.driver())
    assert claims == (backend.name == "redis")
    chosen: list[type] = []

    def record(self: Worker, connection: str, queues: list[str]) -> int:  # only which worker class runs
        chosen.append(type(self))
        return 0

    for options, expected in ((WorkerOptions(concurrency=2), ClaimingWorker if claims else ConcurrentWorker),
                              (WorkerOptions(concurrency=2, prefetch=4), ConcurrentWorker)):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(ConcurrentWorker, "daemon", record)
            mp.setattr(ClaimingWorker, "daemon", record)
            assert Worker(backend.manager, options).daemon(backend.connection, ["default"]) == 0
        assert chosen[-1] is expected


def test_a_mixed_queue_runs_every_job_once_with_one_attempt(backend: Backend, witness: Path):
    # An async job first, so a slot claims a batch next; a def job inside that batch hands the rest back.
    ids = [AsyncSleepSpanJob.dispatch(str(witness), 0.05)]
    for n in range(30):
        kind = SleepSpanJob if n % 3 == 0 else AsyncSleepSpanJob
        ids.append(kind.dispatch(str(witness), 0.05))
    worker = Worker(backend.manager, WorkerOptions(concurrency=8, stop_when_empty=True, sleep=0.05))
    assert worker.daemon(backend.connection, ["default"]) == 0
    begins = _begins(witness)
    assert sorted(uuid for uuid, _ in begins) == sorted(ids)  # each started once
    assert {attempt for _, attempt in begins} == {1}  # handed-back jobs had their attempt undone
    assert sorted(intervals(read_lines(witness))) == sorted(ids)
    backend.manager.reset()
    sizes = backend.driver().sizes("default")
    assert (sizes.total, sizes.reserved) == (0, 0)


def test_async_jobs_claimed_in_batches_are_all_acked_when_the_worker_process_exits(
        backend: Backend, tmp_path: Path, witness: Path):
    ids = [AsyncSleepSpanJob.dispatch(str(witness), 0.02) for _ in range(120)]
    proc = start_worker([backend.connection, "--sleep=0.05", "--concurrency=40", "--stop-when-empty"],
                        env=backend.env, log=tmp_path / "worker.log")
    assert proc.wait(90) == 0, (tmp_path / "worker.log").read_text()
    assert sorted(intervals(read_lines(witness))) == sorted(ids)
    backend.manager.reset()
    sizes = backend.driver().sizes("default")
    assert (sizes.total, sizes.reserved) == (0, 0)  # every ack reached the store before the exit


def test_max_jobs_holds_with_batch_claims(backend: Backend, witness: Path):
    for _ in range(30):
        AsyncSleepSpanJob.dispatch(str(witness), 0.02)
    worker = Worker(backend.manager, WorkerOptions(concurrency=8, max_jobs=10, sleep=0.05))
    assert worker.daemon(backend.connection, ["default"]) == 0
    assert len(_begins(witness)) == 10
    backend.manager.reset()
    sizes = backend.driver().sizes("default")
    assert (sizes.total, sizes.reserved) == (20, 0)  # the rest untouched, nothing left reserved


def test_async_jobs_settled_in_batches_are_acked_by_the_settler_itself(backend: Backend, witness: Path,
                                                                        monkeypatch: pytest.MonkeyPatch):
    # On Redis the batch settler sends the acks of what it settled on its own connection (without a reply):
    # none passes through the acker thread, and all reach the store by the time the worker returns.
    from app.Queue.Concurrency.Acker import Acker

    posted: list[int] = []
    post_many = Acker.post_many
    monkeypatch.setattr(Acker, "post_many", lambda self, jobs: (posted.append(len(jobs)), post_many(self, jobs))[1])
    ids = [AsyncSleepSpanJob.dispatch(str(witness), 0.02) for _ in range(40)]
    worker = Worker(backend.manager, WorkerOptions(concurrency=16, stop_when_empty=True, sleep=0.05))
    assert worker.daemon(backend.connection, ["default"]) == 0
    assert sorted(intervals(read_lines(witness))) == sorted(ids)
    assert posted == []
    backend.manager.reset()
    sizes = backend.driver().sizes("default")
    assert (sizes.total, sizes.reserved) == (0, 0)
