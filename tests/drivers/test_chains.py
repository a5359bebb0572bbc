"""Chains on every backend with two concurrent worker processes: strict order, results, catch once, batches inside."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.Jobs.Batch import batch
from app.Jobs.Chain import chain
from app.Jobs.ChainMonitor import ChainMonitor
from app.Models.JobBatch import JobBatch
from tests.drivers.batch_support import lines_starting, workers
from tests.drivers.conftest import Backend
from tests.fixtures import batch_jobs as bj
from tests.support import wait_until


def _state(chain_id: str) -> str:
    return ChainMonitor(chain_id).get_status().state


@pytest.mark.slow
def test_chains_run_in_order_pass_results_stop_on_failure_and_hold_batches(
        backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    callbacks = tmp_path / "callbacks.log"
    monkeypatch.setenv("BATCH_WITNESS", str(callbacks))
    ok, bad, mixed, member = (tmp_path / f"{n}.log" for n in ("ok", "bad", "mixed", "member"))
    conn = backend.connection
    ok_id = chain([bj.Start(ok), bj.Increment(ok, "2", 0.05), bj.Increment(ok, "3", 0.05), bj.Increment(ok, "4")]) \
        .name("etl").catch(bj.on_chain_catch).on_connection(conn).dispatch()
    bad_id = chain([bj.Start(bad), bj.FailStep(bad), bj.Increment(bad, "3"), bj.Increment(bad, "4")]) \
        .catch(bj.on_chain_catch).catch(bj.CallbackJob("chain failed")).on_connection(conn).dispatch()
    mixed_id = chain([bj.Start(mixed), batch([bj.Work(mixed, f"b{i}", 0.02) for i in range(6)]).then(bj.on_then),
                      bj.Increment(mixed, "after")]).on_connection(conn).dispatch()
    batch_id = batch([chain([bj.Start(member), bj.Increment(member, "2")]), bj.Work(member, "solo")]) \
        .then(bj.on_then).on_connection(conn).dispatch()
    status = ChainMonitor(ok_id).get_status()
    assert (status.current_step, status.total_steps, status.state) == (0, 4, "pending")
    with workers(backend, tmp_path):
        done = (lambda: _state(ok_id) == "completed" and _state(bad_id) == "failed" and _state(mixed_id) == "completed"
                and JobBatch.find(batch_id).finished() and len(lines_starting(callbacks, "")) >= 4)
        assert wait_until(done, timeout=60)
        time.sleep(0.5)
    assert ok.read_text().splitlines() == ["step start", "step 2 got 1", "step 3 got 2", "step 4 got 3"]
    status = ChainMonitor(ok_id).get_status()
    assert (status.current_step, status.total_steps, status.progress, status.name) == (4, 4, 100.0, "etl")
    assert bad.read_text().splitlines() == ["step start", "step fail"]
    status = ChainMonitor(bad_id).get_status()
    assert (status.current_step, status.completed_steps, status.state) == (2, 1, "failed")
    mixed_lines = mixed.read_text().splitlines()
    assert mixed_lines[0] == "step start" and mixed_lines[-1] == "step after got 0" and len(mixed_lines) == 8
    log = lines_starting(callbacks, "")
    assert lines_starting(callbacks, "chain-catch") == [f"chain-catch {bad_id} step=2 step 2 broke"]
    assert log.count("callback-job chain failed") == 1
    mixed_batch = [line for line in log if line.startswith("then") and "processed=6" in line]
    assert len(mixed_batch) == 1
    found = JobBatch.find(batch_id)
    assert (found.total_jobs, found.processed_jobs) == (2, 2)
    assert f"then {batch_id} processed=2 failed=0" in log
    assert member.read_text().splitlines().count("step 2 got 1") == 1
