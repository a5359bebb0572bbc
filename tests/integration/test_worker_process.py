"""`python artisan queue:work` as a real process: options, signals, restart, hard timeouts, leases."""
from __future__ import annotations

import signal
import time

import pytest

from tests.conftest import read_lines
from tests.core_helpers import failed_rows, job_rows
from tests.fixtures.core_jobs import TaggedRecordJob
from tests.fixtures.jobs import IgnoresTimeoutJob, SleepJob
from tests.support import artisan, start_worker, stop, wait_until

pytestmark = pytest.mark.slow


def has_line(path, prefix: str):
    return lambda: any(line.startswith(prefix) for line in read_lines(path))


def test_once_with_a_queue_list_processes_only_the_first_available_job(queue_env, witness):
    TaggedRecordJob(str(witness), "low").on_queue("low").dispatch()
    TaggedRecordJob(str(witness), "high").on_queue("high").dispatch()
    result = artisan("queue:work", "database", "--queue=high,low", "--once", "--sleep=0.1")
    assert result.returncode == 0, result.stderr
    assert read_lines(witness) == ["high"]
    assert "DONE" in result.stdout and "TaggedRecordJob" in result.stdout
    result = artisan("queue:work", "--queue=high,low", "--max-jobs=5", "--stop-when-empty", "--sleep=0.1", "-q")
    assert result.returncode == 0 and result.stdout == ""
    assert read_lines(witness) == ["high", "low"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_a_job_finishes_the_job_then_exits_0(queue_env, witness, tmp_path, sig):
    first = SleepJob.dispatch(str(witness), 1.0, "first")
    SleepJob.dispatch(str(witness), 1.0, "second")
    proc = start_worker(["--sleep=0.1"], log=tmp_path / "worker.log")
    try:
        assert wait_until(has_line(witness, "start first"), 15)
        proc.send_signal(sig)
        assert proc.wait(15) == 0
    finally:
        stop(proc)
    assert read_lines(witness) == [f"start first {first} 1", f"done first {first} 1"]
    (row,) = job_rows(queue_env)
    assert row["reserved_at"] is None and "second" in row["payload"]


def test_queue_restart_makes_a_running_worker_exit_after_its_current_job(queue_env, witness, tmp_path):
    first = SleepJob.dispatch(str(witness), 1.5, "first")
    SleepJob.dispatch(str(witness), 1.5, "second")
    proc = start_worker(["--sleep=0.1"], log=tmp_path / "worker.log")
    try:
        assert wait_until(has_line(witness, "start first"), 15)
        result = artisan("queue:restart")
        assert result.returncode == 0 and "restart" in result.stdout
        assert proc.wait(15) == 0
    finally:
        stop(proc)
    assert read_lines(witness) == [f"start first {first} 1", f"done first {first} 1"]
    assert len(job_rows(queue_env)) == 1


def test_a_job_that_ignores_its_timeout_ends_the_worker_and_is_released_then_failed(queue_env, witness, tmp_path):
    job_id = IgnoresTimeoutJob.dispatch(str(witness))  # timeout 1 s, max_tries 2
    proc = start_worker(["--sleep=0.1"], log=tmp_path / "worker.log")
    try:
        assert proc.wait(15) != 0
    finally:
        stop(proc)
    (row,) = job_rows(queue_env)
    assert (row["attempts"], row["reserved_at"]) == (1, None)
    assert "ignored timeout" in read_lines(witness)
    proc = start_worker(["--sleep=0.1", "--stop-when-empty"], log=tmp_path / "worker.log")
    try:
        assert proc.wait(15) != 0
    finally:
        stop(proc)
    assert job_rows(queue_env) == []
    (failed,) = failed_rows(queue_env)
    assert failed["uuid"] == job_id
    assert failed["exception"].startswith("JobTimeoutError: IgnoresTimeoutJob timed out after 1 s and did not stop")


def test_heartbeat_renews_the_lease_so_a_long_job_is_not_handed_to_another_worker(queue_env, witness, tmp_path, monkeypatch):
    monkeypatch.setenv("QUEUE_RETRY_AFTER", "2")
    queue_env.reset()
    job_id = SleepJob.dispatch(str(witness), 4.5, "long")
    proc = start_worker(["--sleep=0.1", "--name=alpha"], log=tmp_path / "worker.log")
    try:
        assert wait_until(has_line(witness, "start long"), 15)
        assert job_rows(queue_env)[0]["reserved_by"].startswith("alpha@")
        stolen = []
        deadline = time.monotonic() + 4.0
        while time.monotonic() < deadline and not has_line(witness, "done")():
            job = queue_env.connection().pop("default", "thief")
            if job is not None:
                stolen.append(job)
            time.sleep(0.1)
        assert stolen == []
        assert wait_until(has_line(witness, "done long"), 10)
    finally:
        stop(proc)
    assert read_lines(witness) == [f"start long {job_id} 1", f"done long {job_id} 1"]
    assert job_rows(queue_env) == []


def test_sigterm_while_idle_exits_0_promptly(queue_env, tmp_path):
    log = tmp_path / "worker.log"
    proc = start_worker(["--sleep=120"], log=log)
    try:
        assert wait_until(lambda: log.exists() and "Processing jobs" in log.read_text(), 15)
        time.sleep(0.3)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(90) == 0
        assert time.monotonic() - started < 60  # the signal cut the 120 s idle sleep short
    finally:
        stop(proc)


def test_sigterm_during_a_once_job_finishes_it(queue_env, witness, tmp_path):
    job_id = SleepJob.dispatch(str(witness), 1.0, "once")
    proc = start_worker(["--once"], log=tmp_path / "worker.log")
    try:
        assert wait_until(has_line(witness, "start once"), 15)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        stop(proc)
    assert read_lines(witness) == [f"start once {job_id} 1", f"done once {job_id} 1"]
    assert job_rows(queue_env) == []


def test_cli_tries_and_backoff_are_defaults_for_jobs_without_their_own(queue_env, witness):
    from tests.fixtures.core_jobs import PlainFailJob

    first = PlainFailJob.dispatch(str(witness))
    assert artisan("queue:work", "--tries=1", "--stop-when-empty", "--sleep=0.1").returncode == 0
    assert [r["uuid"] for r in failed_rows(queue_env)] == [first]
    PlainFailJob.dispatch(str(witness))
    before = int(time.time())
    assert artisan("queue:work", "--tries=3", "--backoff=4,9", "--stop-when-empty", "--sleep=0.1").returncode == 0
    (row,) = job_rows(queue_env)
    assert row["attempts"] == 1 and before + 4 <= row["available_at"] <= int(time.time()) + 5  # ceil(now + 4)


def test_cli_timeout_max_time_and_memory_options(queue_env, witness):
    job_id = SleepJob.dispatch(str(witness), 5, "slow")
    started = time.monotonic()
    result = artisan("queue:work", "--timeout=0.5", "--tries=1", "--max-time=1.5", "--sleep=0.1")
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started >= 1.5  # ran until --max-time (artisan's 60 s timeout bounds the other side)
    (failed,) = failed_rows(queue_env)
    assert failed["uuid"] == job_id and failed["exception"].startswith("JobTimeoutError: SleepJob timed out after 0.5 s")
    queued = [TaggedRecordJob.dispatch(str(witness), f"m{i}") for i in range(2)]
    over = artisan("queue:work", "--memory=1", "--sleep=0.1")
    assert over.returncode == 12 and len(job_rows(queue_env)) == len(queued) - 1
