"""queue:retry-batch and queue:prune-batches, with an in-process worker on SQLite."""
from __future__ import annotations

from pathlib import Path

import pytest
from cleo.testers.command_tester import CommandTester
from freezegun import freeze_time

from app.Console.kernel import application
from app.Jobs.Batch import batch
from app.Models.JobBatch import JobBatch
from app.Queue.QueueManager import QueueManager
from app.Queue.Worker import Worker
from app.Queue.WorkerOptions import WorkerOptions
from tests.conftest import read_lines
from tests.fixtures import batch_jobs as bj


def run(*args: str) -> tuple[int, str, str]:
    name, *rest = args
    tester = CommandTester(application().find(name))
    status = tester.execute(" ".join(rest))
    return status, tester.io.fetch_output(), tester.io.fetch_error()


def work(qm: QueueManager) -> None:
    Worker(qm, WorkerOptions(memory=0, stop_when_empty=True, sleep=0, max_tries=1)).daemon("database", ["default"])


@pytest.fixture
def callbacks_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "callbacks.log"
    monkeypatch.setenv("BATCH_WITNESS", str(path))
    return path


def test_retry_batch_requeues_failed_jobs_and_then_runs_once_they_succeed(queue_env: QueueManager, tmp_path: Path,
                                                                          witness: Path, callbacks_log: Path):
    batch_id = batch([bj.FailsFirstTime(witness, tmp_path / "marker"), bj.Work(witness, "ok")]) \
        .then(bj.on_then).catch(bj.on_catch).finally_(bj.on_finally).dispatch()
    work(queue_env)
    found = JobBatch.find(batch_id)
    assert found.cancelled() and found.failed_jobs == 1 and found.finished()
    assert [line.split()[0] for line in read_lines(callbacks_log)] == ["catch", "finally"]
    status, out, _ = run("queue:retry-batch", batch_id)
    assert status == 0 and "Pushed 1 failed job(s)" in out
    work(queue_env)
    found = JobBatch.find(batch_id)
    assert (found.pending_jobs, found.failed_jobs, found.failed_job_ids, found.cancelled()) == (0, 0, [], False)
    assert found.progress() == 100.0 and queue_env.failed.count() == 0
    assert [line.split()[0] for line in read_lines(callbacks_log)] == ["catch", "finally", "then"]


def test_retry_batch_with_unknown_id_is_one_clear_line():
    status, _, err = run("queue:retry-batch", "nope")
    assert status == 1 and err.strip() == "No batch matches the ID [nope]."


def test_prune_batches_deletes_old_finished_and_optionally_unfinished_or_cancelled(witness: Path):
    with freeze_time("2026-01-01 00:00:00"):
        old_done = batch([]).dispatch()
        old_open = batch([bj.Work(witness, "never run")]).dispatch()
    with freeze_time("2026-01-03 00:00:00"):
        new_done = batch([]).dispatch()
        assert run("queue:prune-batches", "--hours=24")[0] == 0
        assert JobBatch.find(old_done) is None and JobBatch.find(new_done) and JobBatch.find(old_open)
        assert run("queue:prune-batches", "--unfinished=24")[1].strip() == "1 batch record(s) pruned."
        assert JobBatch.find(old_open) is None and JobBatch.find(new_done)
        status, _, err = run("queue:prune-batches", "--cancelled=soon")
        assert status == 1 and "--cancelled must be a number of hours" in err


def test_recent_lists_batches_newest_first_for_queue_stats(witness: Path):
    with freeze_time("2026-01-01 00:00:00") as clock:
        first = batch([bj.Work(witness, "a")]).name("first").dispatch()
        clock.tick(5)
        second = batch([]).name("second").dispatch()
    assert [b.id for b in JobBatch.recent(5)] == [second, first]
    assert JobBatch.recent(1)[0].to_dict()["progress"] == 100.0
