"""Batches: before/progress callbacks, Batch.find + add counters, allow_failures + then; chains: with_chain, catch in a batch."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.Jobs.Batch import Batch, batch
from app.Jobs.Chain import chain
from app.Queue.Worker import Worker
from app.Queue.WorkerOptions import WorkerOptions
from tests.conftest import read_lines
from tests.drivers.batch_support import lines_starting
from tests.drivers.conftest import Backend
from tests.fixtures import batch_jobs as bj
from tests.fixtures.jobs import RecordJob
from tests.fixtures.parity_jobs import on_progress


@pytest.fixture
def callbacks_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "callbacks.log"
    monkeypatch.setenv("BATCH_WITNESS", str(path))
    return path


def work(backend: Backend) -> None:
    Worker(backend.manager, WorkerOptions(stop_when_empty=True, sleep=0, max_tries=1)).daemon(backend.connection, ["default"])


def test_before_runs_at_dispatch_and_progress_after_each_success(backend: Backend, witness, callbacks_log):
    seen_before: list[tuple[int, int]] = []
    batch_id = (batch([bj.Work(witness, f"w{i}") for i in range(3)])
                .before(lambda b: seen_before.append((b.total_jobs, backend.manager.size("default", backend.connection))))
                .progress(on_progress).then(bj.on_then).on_connection(backend.connection).dispatch())
    assert seen_before == [(3, 0)]  # the batch is stored, its jobs not queued yet
    work(backend)
    assert read_lines(callbacks_log) == [
        "progress processed=1 pending=2", "progress processed=2 pending=1", "progress processed=3 pending=0",
        f"then {batch_id} processed=3 failed=0"]


def test_batch_find_then_add_gives_fresh_counters(backend: Backend, witness):
    batch_id = batch([bj.Work(witness, "first")]).on_connection(backend.connection).dispatch()
    found = Batch.find(batch_id)
    found.add([bj.Work(witness, "a"), bj.Work(witness, "b")])
    assert (found.total_jobs, found.pending_jobs) == (3, 3)
    assert (Batch.find(batch_id).total_jobs, Batch.find(batch_id).pending_jobs) == (3, 3)
    work(backend)
    done = Batch.find(batch_id)
    assert (done.processed_jobs, done.pending_jobs) == (3, 0) and done.finished()


def test_allow_failures_keeps_then_semantics(backend: Backend, witness, callbacks_log):
    batch_id = (batch([bj.Boom(witness, "x"), bj.Work(witness, "y")]).allow_failures(1).then(bj.on_then)
                .catch(bj.on_catch).on_connection(backend.connection).dispatch())
    work(backend)
    assert lines_starting(callbacks_log, "then") == [f"then {batch_id} processed=1 failed=1"]
    assert lines_starting(callbacks_log, "catch") == []


def test_with_chain_on_a_single_job(backend: Backend, witness):
    chain_id = RecordJob(witness, "a").on_connection(backend.connection).with_chain(
        [RecordJob(witness, "b"), RecordJob(witness, "c")]).dispatch()
    assert chain_id is not None
    work(backend)
    assert [line.split()[0] for line in read_lines(witness)] == ["a", "b", "c"]


def test_catch_of_a_chain_inside_a_batch(backend: Backend, witness, callbacks_log):
    member = chain([bj.Start(witness), bj.FailStep(witness), bj.Increment(witness, "never")]).catch(bj.on_chain_catch)
    batch_id = (batch([member, bj.Work(witness, "other")]).allow_failures(True).finally_(bj.on_finally)
                .on_connection(backend.connection).dispatch())
    work(backend)
    caught = lines_starting(callbacks_log, "chain-catch")
    assert len(caught) == 1 and caught[0].endswith("step 2 broke")
    assert lines_starting(callbacks_log, "finally") == [f"finally {batch_id} pending=1 failed=1"]  # a failed member stays pending (Laravel)
    assert "step never got" not in " ".join(read_lines(witness))
