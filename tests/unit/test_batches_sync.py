"""Batches and chains on the in-process sync connection, and the refusal of callbacks a worker cannot load."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.Jobs.Batch import batch
from app.Jobs.Callbacks import CallbackError
from app.Jobs.Chain import chain
from app.Jobs.ChainMonitor import ChainMonitor
from app.Models.JobBatch import JobBatch
from tests.conftest import read_lines
from tests.fixtures import batch_jobs as bj


@pytest.fixture
def wfile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "callbacks.log"
    monkeypatch.setenv("BATCH_WITNESS", str(path))
    return path


def test_sync_batch_runs_lambdas_with_the_arities_they_take(witness: Path):
    seen: list[str] = []
    batch_id = (batch([bj.Work(witness, "a"), bj.Work(witness, "b")])
                .then(lambda: seen.append("then0")).then(lambda b: seen.append(f"then1 {b.processed_jobs}"))
                .finally_(lambda b: seen.append(f"finally {b.pending_jobs}"))
                .on_connection("sync").dispatch())
    assert seen == ["then0", "then1 2", "finally 0"]
    found = JobBatch.find(batch_id)
    assert found.finished() and found.progress() == 100.0 and found.total_jobs == 2 and not found.has_failures()


def test_sync_batch_failure_beyond_allowance_calls_catch_once_and_skips_the_rest(witness: Path):
    seen: list[str] = []
    batch_id = (batch([bj.Boom(witness, "1"), bj.Work(witness, "after")])
                .catch(lambda e: seen.append(f"catch {e}")).catch(lambda b, e: seen.append(f"catch2 {b.cancelled()}"))
                .then(lambda: seen.append("then")).finally_(lambda: seen.append("finally"))
                .on_connection("sync").dispatch())
    assert seen == ["catch boom 1", "catch2 True", "finally"]
    found = JobBatch.find(batch_id)
    assert found.cancelled() and found.failed_jobs == 1 and found.pending_jobs == 1 and found.processed_jobs == 1
    assert [line for line in read_lines(witness) if line.startswith("ran")] == []  # skipped after cancel


def test_sync_batch_within_allowance_still_runs_then(witness: Path):
    seen: list[str] = []
    batch([bj.Boom(witness, "1"), bj.Work(witness, "ok")]).allow_failures(1) \
        .then(lambda b: seen.append(f"then failed={b.failed_jobs}")).catch(lambda e: seen.append("catch")) \
        .on_connection("sync").dispatch()
    assert seen == ["then failed=1"]


def test_empty_batch_finishes_at_once(wfile: Path):
    batch_id = batch([]).then(bj.on_then).finally_(bj.on_finally).dispatch()
    assert JobBatch.find(batch_id).finished()
    assert read_lines(wfile) == [f"then {batch_id} processed=0 failed=0", f"finally {batch_id} pending=0 failed=0"]


def test_lambda_callback_is_refused_on_a_queue_connection(witness: Path):
    with pytest.raises(CallbackError, match="lambda.*module-level function or a Job"):
        batch([bj.Work(witness, "a")]).then(lambda: None).dispatch()
    assert JobBatch.recent() == []

    def closure() -> None:
        return None

    with pytest.raises(CallbackError, match="closure"):
        chain([bj.Start(witness)]).catch(closure).dispatch()


def test_callback_outside_allowed_modules_is_refused(witness: Path):
    import json

    with pytest.raises(CallbackError, match="outside the allowed job modules"):
        batch([bj.Work(witness, "a")]).then(json.dumps).dispatch()


def test_sync_chain_passes_results_and_reports_completed(witness: Path):
    chain_id = chain([bj.Start(witness), bj.Increment(witness, "2"), bj.Increment(witness, "3")]).on_connection("sync").dispatch()
    assert read_lines(witness) == ["step start", "step 2 got 1", "step 3 got 2"]
    status = ChainMonitor(chain_id).get_status()
    assert (status.current_step, status.total_steps, status.progress, status.state) == (3, 3, 100.0, "completed")


def test_sync_chain_failure_stops_and_catches_once(witness: Path):
    seen: list[str] = []
    chain_id = chain([bj.Start(witness), bj.FailStep(witness), bj.Increment(witness, "3")]) \
        .catch(lambda e: seen.append(str(e))).on_connection("sync").dispatch()
    assert read_lines(witness) == ["step start", "step fail"] and seen == ["step 2 broke"]
    status = ChainMonitor(chain_id).get_status()
    assert (status.current_step, status.state, status.completed_steps) == (2, "failed", 1)


def test_non_json_result_fails_the_step_with_a_clear_error(witness: Path):
    seen: list[str] = []
    chain([bj.BadResult(), bj.Start(witness)]).catch(lambda e: seen.append(str(e))).on_connection("sync").dispatch()
    assert "cannot be passed to the next step" in seen[0] and read_lines(witness) == []


def test_steps_can_prepend_and_append_to_their_chain(witness: Path):
    chain_id = chain([bj.Prepends(witness), bj.Increment(witness, "last")]).on_connection("sync").dispatch()
    assert read_lines(witness) == ["step prepends", "step prepended got 10", "step last got 11", "step appended got 12"]
    assert ChainMonitor(chain_id).get_status().total_steps == 4


def test_sync_chain_inside_a_batch_counts_as_one_member(witness: Path):
    seen: list[str] = []
    batch_id = batch([chain([bj.Start(witness), bj.Increment(witness, "2")]), bj.Work(witness, "solo")]) \
        .then(lambda b: seen.append(f"then {b.total_jobs} {b.processed_jobs}")).on_connection("sync").dispatch()
    assert seen == ["then 2 2"] and JobBatch.find(batch_id).finished()
    assert "step 2 got 1" in read_lines(witness)


def test_sync_batch_as_chain_step_runs_before_the_next_step(witness: Path, wfile: Path):
    chain([bj.Start(witness), batch([bj.Work(witness, "x"), bj.Work(witness, "y")]).then(bj.on_then),
           bj.Increment(witness, "after")]).on_connection("sync").dispatch()
    lines = read_lines(witness)
    assert lines[0] == "step start" and lines[-1] == "step after got 0" and len(lines) == 4
    assert len([line for line in read_lines(wfile) if line.startswith("then")]) == 1


def test_job_inside_batch_can_add_jobs(witness: Path):
    batch_id = batch([bj.AddMore(witness, 3)]).on_connection("sync").dispatch()
    found = JobBatch.find(batch_id)
    assert (found.total_jobs, found.pending_jobs, found.finished()) == (4, 0, True)


def test_job_can_cancel_its_own_batch_and_later_members_skip(witness: Path):
    batch_id = batch([bj.Work(witness, "before"), bj.CancelBatch(witness), bj.Work(witness, "after")]) \
        .on_connection("sync").dispatch()
    lines = read_lines(witness)
    assert len(lines) == 2 and lines[0].startswith("ran before") and lines[1] == "cancelled True"
    found = JobBatch.find(batch_id)
    assert found.cancelled() and found.finished() and found.pending_jobs == 0


def test_batch_id_and_remaining_chain_travel_in_the_signed_envelope(witness: Path, queue_env):
    from sqlalchemy import select

    from app.Queue.Database.tables import jobs
    from app.Queue.errors import InvalidPayloadError

    chain_id = chain([bj.Start(witness), bj.Increment(witness, "2")]).dispatch()
    batch_id = batch([bj.Work(witness, "a")]).dispatch()
    with queue_env.engine().connect() as conn:
        payloads = [r[0] for r in conn.execute(select(jobs.c.payload).order_by(jobs.c.id))]
    first, member = (queue_env.codec.parse(p) for p in payloads)
    assert first["chain"]["id"] == chain_id and len(first["chain"]["steps"]) == 1 and member["batchId"] == batch_id
    restored = queue_env.codec.restore(member)
    assert restored.batch_id == batch_id and restored.batch().total_jobs == 1
    forged = payloads[0].replace('"tests.fixtures.batch_jobs:Increment"', '"tests.fixtures.batch_jobs:FailStep"')
    with pytest.raises(InvalidPayloadError, match="signature"):
        queue_env.codec.parse(forged)
