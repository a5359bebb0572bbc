"""`queue:work --concurrency=N` on every backend: jobs overlap, and each keeps its own guarantees.

Overlap is read from what the jobs record (each writes its start and end), never from
elapsed time, so a loaded machine slows the tests down without making them fail.
"""
from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from app.Jobs.Batch import batch
from app.Jobs.JobState import JobState
from app.Models.JobBatch import JobBatch
from app.Queue.Worker import Worker
from app.Queue.WorkerOptions import WorkerOptions
from app.Queue.WorkerRegistry import WorkerRegistry
from tests.conftest import read_lines
from tests.drivers.batch_support import lines_starting
from tests.drivers.conftest import Backend
from tests.fixtures import batch_jobs as bj
from tests.fixtures.concurrency_jobs import AsyncSleepSpanJob, GatedSpanJob, SleepSpanJob, intervals, max_overlap
from tests.fixtures.jobs import FailingJob, RecordJob
from tests.support import artisan, start_worker, stop, wait_until

pytestmark = pytest.mark.slow


def _worker(backend: Backend, args: list[str], tmp_path: Path, retry_after: int = 30, name: str = "worker"):
    env = {**backend.env, "QUEUE_RETRY_AFTER": str(retry_after)}
    return start_worker([backend.connection, "--sleep=0.05", *args], env=env, log=tmp_path / f"{name}.log")


def _begun(path: Path) -> int:
    return len(lines_starting(path, "begin "))


def _sizes(backend: Backend):
    backend.manager.reset()
    return backend.driver().sizes("default")


def test_n_sleeping_jobs_overlap_and_each_runs_once(backend: Backend, tmp_path: Path, witness: Path):
    ids = [SleepSpanJob.dispatch(str(witness), 1.0) for _ in range(8)]
    ids += [AsyncSleepSpanJob.dispatch(str(witness), 1.0) for _ in range(8)]
    proc = _worker(backend, ["--concurrency=8", "--stop-when-empty"], tmp_path)
    assert proc.wait(60) == 0, (tmp_path / "worker.log").read_text()
    spans = intervals(read_lines(witness))
    assert sorted(spans) == sorted(ids)
    assert max_overlap(list(spans.values())) == 8  # eight at once, never more
    assert _sizes(backend).total == 0


def test_a_slow_job_does_not_hold_up_fast_ones(backend: Backend, witness: Path):
    slow = SleepSpanJob.dispatch(str(witness), 2.0, "slow")
    fast = [SleepSpanJob.dispatch(str(witness), 0.01, "fast") for _ in range(10)]
    worker = Worker(backend.manager, WorkerOptions(concurrency=2, stop_when_empty=True, sleep=0.05))
    assert worker.daemon(backend.connection, ["default"]) == 0
    spans = intervals(read_lines(witness))
    assert all(spans[f][1] < spans[slow][1] for f in fast)  # every fast job ended while the slow one ran


@pytest.mark.parametrize("how", ["sigterm", "restart"])
def test_sigterm_or_restart_with_jobs_in_flight_finishes_them_all_and_takes_no_more(
        backend: Backend, tmp_path: Path, witness: Path, how: str):
    # Workers read the restart flag once a second: the jobs outlast the command's start-up and that second.
    ids = [SleepSpanJob.dispatch(str(witness), 1.5 if how == "sigterm" else 4.0) for _ in range(8)]
    proc = _worker(backend, ["--concurrency=4"], tmp_path)
    try:
        assert wait_until(lambda: _begun(witness) >= 4, 30)
        if how == "sigterm":
            proc.send_signal(signal.SIGTERM)
        else:
            assert artisan("queue:restart", env=backend.env).returncode == 0
        assert proc.wait(30) == 0
    finally:
        stop(proc)
    begun = {line.split()[2] for line in lines_starting(witness, "begin ")}
    finished = intervals(read_lines(witness))
    assert len(begun) == 4 and set(finished) == begun and begun < set(ids)
    sizes = _sizes(backend)
    assert (sizes.pending, sizes.reserved) == (4, 0)  # the rest were never taken


def test_sigkill_with_jobs_in_flight_loses_none(backend: Backend, tmp_path: Path, witness: Path):
    ids = [SleepSpanJob.dispatch(str(witness), 1.0) for _ in range(12)]
    proc = _worker(backend, ["--concurrency=4"], tmp_path, retry_after=2)
    try:
        assert wait_until(lambda: _begun(witness) >= 4, 30)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        stop(proc)
    killed = _begun(witness) - len(intervals(read_lines(witness)))
    assert killed >= 1
    # Not --stop-when-empty: the killed worker's jobs are reserved (not available) until their leases expire.
    proc = _worker(backend, ["--concurrency=4"], tmp_path, retry_after=2, name="second")
    try:
        assert wait_until(lambda: set(intervals(read_lines(witness))) == set(ids), 60)
        assert wait_until(lambda: _sizes(backend).total == 0, 30)
    finally:
        assert stop(proc) == 0
    runs = [line.split()[2] for line in lines_starting(witness, "run ")]
    assert len(runs) - len(set(runs)) <= 4  # duplicates only among the jobs in flight at the kill
    assert _sizes(backend).total == 0


def test_attempts_backoff_and_failure_hold_per_job(backend: Backend, witness: Path):
    failing = FailingJob.dispatch(str(witness))  # max_tries 3
    ok = [RecordJob.dispatch(str(witness), f"ok{i}") for i in range(6)]
    worker = Worker(backend.manager, WorkerOptions(concurrency=4, stop_when_empty=True, sleep=0.05))
    assert worker.daemon(backend.connection, ["default"]) == 0
    lines = read_lines(witness)
    assert sorted(line.split()[0] for line in lines if line.startswith("ok")) == [f"ok{i}" for i in range(6)]
    assert [line for line in lines if line.startswith("attempt")] == ["attempt 1", "attempt 2", "attempt 3"]
    assert len([line for line in lines if line.startswith("failed")]) == 1
    assert backend.manager.failed.count("default") == 1
    assert backend.manager.statuses.get(failing).state == JobState.FAILED
    assert all(backend.manager.statuses.get(i).state == JobState.COMPLETED for i in ok)


@pytest.mark.parametrize("count,args", [(200, ["--concurrency=16"]),
                                        (40, ["--concurrency=4", "--prefetch=8"])],  # jobs held ahead
                         ids=["c16", "c4-prefetch8"])
def test_a_batch_worked_by_two_workers_fires_each_callback_once(backend: Backend, tmp_path: Path, witness: Path,
                                                                monkeypatch: pytest.MonkeyPatch, count: int,
                                                                args: list[str]):
    callbacks = tmp_path / "callbacks.log"
    monkeypatch.setenv("BATCH_WITNESS", str(callbacks))
    jobs = [bj.Work(witness, f"w{i}") for i in range(count)]
    batch_id = (batch(jobs).then(bj.on_then).catch(bj.on_catch).finally_(bj.on_finally)
                .on_connection(backend.connection).dispatch())
    procs = [_worker(backend, [*args, "--stop-when-empty"], tmp_path, name=f"w{i}") for i in range(2)]
    for proc in procs:
        assert proc.wait(90) == 0
    found = JobBatch.find(batch_id)
    assert (found.total_jobs, found.pending_jobs, found.processed_jobs, found.failed_jobs) == (count, 0, count, 0)
    assert len({line.split()[2] for line in lines_starting(witness, "ran")}) == count
    assert sorted(read_lines(callbacks)) == sorted([f"then {batch_id} processed={count} failed=0",
                                                    f"finally {batch_id} pending=0 failed=0"])


def test_prefetch_with_concurrency_runs_every_job_once(backend: Backend, witness: Path):
    ids = [SleepSpanJob.dispatch(str(witness), 0.05) for _ in range(20)]
    worker = Worker(backend.manager, WorkerOptions(concurrency=4, prefetch=4, stop_when_empty=True, sleep=0.05))
    assert worker.daemon(backend.connection, ["default"]) == 0
    runs = [line.split()[2] for line in lines_starting(witness, "run ")]
    assert sorted(runs) == sorted(ids)
    assert max_overlap(list(intervals(read_lines(witness)).values())) <= 4
    assert _sizes(backend).total == 0


def test_heartbeat_shows_each_slots_job(backend: Backend, tmp_path: Path, witness: Path):
    ids = {SleepSpanJob.dispatch(str(witness), 3.0) for _ in range(3)}
    proc = _worker(backend, ["--concurrency=3"], tmp_path)

    def slots() -> set[str]:
        live, _ = WorkerRegistry(backend.manager.cache).workers()
        return {str(job["uuid"]) for w in live for job in w.get("slots", [])}

    try:
        assert wait_until(lambda: slots() == ids, 30)
        live, _ = WorkerRegistry(backend.manager.cache).workers()
        assert live[0]["concurrency"] == 3 and live[0]["current"]["uuid"] in ids
    finally:
        stop(proc)


def test_max_jobs_counts_jobs_across_slots(backend: Backend, witness: Path):
    for i in range(10):
        RecordJob.dispatch(str(witness), f"r{i}")
    worker = Worker(backend.manager, WorkerOptions(concurrency=4, max_jobs=5, sleep=0.05))
    assert worker.daemon(backend.connection, ["default"]) == 0
    assert len(read_lines(witness)) == 5
    assert _sizes(backend).total == 5


def test_strict_queue_priority_picks_the_job_a_freed_slot_starts(backend: Backend, tmp_path: Path, witness: Path):
    # Each low job holds its slot until the test opens its own gate. After queueing the high job the test
    # frees exactly one slot: the next job to begin is the one that slot claimed, whatever the machine's
    # load (freeing both at once let the two slots' claims and their jobs' starts interleave).
    gates = [tmp_path / f"gate{i}" for i in range(4)]
    low = [GatedSpanJob(str(witness), str(gates[i]), "low").on_queue("low").dispatch() for i in range(4)]
    proc = _worker(backend, ["--concurrency=2", "--queue=high,low", "--stop-when-empty"], tmp_path)
    try:
        assert wait_until(lambda: _begun(witness) >= 2, 30)
        high = SleepSpanJob(str(witness), 0.1, "high").on_queue("high").dispatch()
        first = lines_starting(witness, "begin ")[0].split()[2]
        gates[low.index(first)].touch()
        assert wait_until(lambda: _begun(witness) >= 3, 30)
        for gate in gates:
            gate.touch()
        assert proc.wait(60) == 0
    finally:
        for gate in gates:
            gate.touch()
        stop(proc)
    order = [line.split()[2] for line in lines_starting(witness, "begin ")]
    assert order[2] == high, witness.read_text()  # the first slot to free took the high job, not one of the two low ones left
    assert sorted(order) == sorted([*low, high])


@pytest.mark.parametrize("prefetch", [1, 8])  # 8: jobs held ahead (on Redis, slot threads start them themselves)
def test_rate_limits_unique_locks_and_async_middleware_hold_per_job(backend: Backend, witness: Path, tmp_path: Path,
                                                                   prefetch: int):
    from tests.fixtures.concurrency_jobs import AsyncOnionJob
    from tests.fixtures.feature_jobs import LimitedJob, UniqueJob

    limited = [LimitedJob.dispatch(str(witness), n, 2, 2) for n in range(4)]  # 2 per 2 s, one attempt each
    unique = UniqueJob.dispatch(str(witness), 7)
    onion_log = tmp_path / "onion.log"
    AsyncOnionJob.dispatch(str(onion_log))
    options = WorkerOptions(concurrency=4, prefetch=prefetch, stop_when_empty=True, sleep=0.05)
    assert Worker(backend.manager, options).daemon(backend.connection, ["default"]) == 0
    deadline = time.monotonic() + 15  # two were released until the window frees; then they run on their only attempt
    while len(read_lines(witness)) < 5 and time.monotonic() < deadline:
        time.sleep(0.5)
        assert Worker(backend.manager, options).daemon(backend.connection, ["default"]) == 0
    assert backend.manager.failed.count("default") == 0  # waiting for the limit used up no attempt
    runs = [line.split() for line in read_lines(witness) if not line.startswith("unique")]
    assert sorted(int(n) for _, n, _ in runs) == [0, 1, 2, 3] and {a for _, _, a in runs} == {"1"}
    assert all(backend.manager.statuses.get(i).state == JobState.COMPLETED for i in limited)
    assert lines_starting(witness, "unique") == [f"unique 7 {unique}"]
    assert UniqueJob.dispatch(str(witness), 7) is not None  # its lock was released when it finished
    assert read_lines(onion_log) == ["outer in", "inner in", "handle", "inner out", "outer out"]
