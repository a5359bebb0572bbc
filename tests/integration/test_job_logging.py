"""Job lifecycle events reach the stdlib `logging` tree; failed jobs keep every attempt's exception."""
from __future__ import annotations

import json
import logging
import os
import pty
import subprocess
import sys

import pytest

from app.Queue import AttemptHistory
from tests.core_helpers import failed_rows, keep_signal_handlers, work  # noqa: F401 (autouse fixture)
from tests.fixtures.jobs import FailingJob, FlakyJob, RecordJob
from tests.support import ROOT, artisan, worker_env

FIELDS = ("job_id", "job_class", "queue", "connection", "attempt")


def job_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "queue.job"]


def test_a_done_job_logs_processing_and_done_at_info_with_its_fields(queue_env, witness, caplog):
    caplog.set_level(logging.INFO, logger="queue")
    job_id = RecordJob.dispatch(str(witness))
    work(queue_env)
    processing, done = job_records(caplog)
    assert processing.levelno == done.levelno == logging.INFO
    for record in (processing, done):
        assert {f: getattr(record, f) for f in FIELDS} == {
            "job_id": job_id, "job_class": "RecordJob", "queue": "default", "connection": "database", "attempt": 1}
    assert done.runtime_ms >= 0 and "done in" in done.getMessage()


def test_a_retried_attempt_logs_a_warning_and_the_final_one_an_error_with_tracebacks(queue_env, witness, caplog):
    caplog.set_level(logging.INFO, logger="queue")
    job = FailingJob(str(witness), "disk full")
    job.max_tries = 2
    job_id = job.dispatch()
    work(queue_env, backoff=(0,))
    problems = [r for r in job_records(caplog) if r.levelno >= logging.WARNING]
    assert [r.levelno for r in problems] == [logging.WARNING, logging.ERROR]
    for attempt, record in enumerate(problems, start=1):
        assert record.job_id == job_id and record.attempt == attempt and record.exc_info is not None
        assert record.exc_info[0] is RuntimeError and "disk full" in logging.Formatter().formatException(record.exc_info)
        assert isinstance(record.runtime_ms, float)
    assert "retrying" in problems[0].getMessage() and "failed permanently" in problems[1].getMessage()


def test_failed_jobs_keeps_the_exception_of_every_attempt(queue_env, witness):
    FailingJob(str(witness), "boom").dispatch()
    work(queue_env, backoff=(0,))
    (row,) = failed_rows(queue_env)
    assert row["exception"].splitlines()[0] == "RuntimeError: boom"  # queue:failed shows the first line
    parts = AttemptHistory.split(row["exception"])
    assert [n for n, _ in parts] == [None, 1, 2]
    assert all("Traceback" in text and "RuntimeError: boom" in text for _, text in parts)


def test_a_job_that_succeeds_after_retries_leaves_no_attempt_history(queue_env, witness):
    job_id = FlakyJob(str(witness), succeed_on=2).dispatch()
    work(queue_env, backoff=(0,))
    assert queue_env.cache.get(AttemptHistory.key(job_id)) is None
    assert failed_rows(queue_env) == []


def test_log_format_json_writes_one_object_a_line_with_the_job_fields(queue_env, witness):
    job_id = FlakyJob(str(witness), succeed_on=2).dispatch()
    result = artisan("queue:work", "--stop-when-empty", "--sleep=0", "--backoff=0", "--quiet",
                     env={"LOG_FORMAT": "json", "LOG_LEVEL": "INFO"})
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]  # every line is JSON, nothing else
    mine = [e for e in lines if e.get("job_id") == job_id]
    assert [e["level"] for e in mine] == ["INFO", "WARNING", "INFO", "INFO"]
    warning = mine[1]
    assert (warning["logger"], warning["job_class"], warning["attempt"]) == ("queue.job", "FlakyJob", 1)
    assert "RuntimeError: flaky attempt 1" in warning["exc_info"] and "Traceback" in warning["exc_info"]
    assert mine[-1]["runtime_ms"] >= 0


def test_worker_lines_show_the_run_time_and_colour_by_outcome(queue_env, witness):
    RecordJob.dispatch(str(witness))
    FailingJob(str(witness)).dispatch()
    result = artisan("queue:work", "--stop-when-empty", "--sleep=0", "--tries=1", "--ansi")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    done = next(line for line in out.splitlines() if "DONE" in line)
    failed = next(line for line in out.splitlines() if "FAILED" in line)
    assert "\x1b[32mDONE" in done and "\x1b[31;1mFAILED" in failed  # green and red
    assert done.rstrip().endswith("ms") and failed.rstrip().endswith("ms")
    assert "\x1b[33mRUNNING" in out  # yellow


def _run_on_a_terminal(args: list[str], extra_env: dict[str, str]) -> str:
    """Run artisan with stdout on a pseudo-terminal (where cleo colours by default); returns what it printed."""
    main, child = pty.openpty()
    proc = subprocess.Popen([sys.executable, str(ROOT / "artisan"), *args], cwd=ROOT, env=worker_env(extra_env),
                            stdout=child, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(60)
    os.close(main)
    return b"".join(chunks).decode()


@pytest.mark.parametrize("extra_env, args, coloured", [
    ({}, [], True),
    ({"NO_COLOR": "1"}, [], False),
    ({}, ["--no-ansi"], False),
])
def test_colours_honour_no_color_and_no_ansi(queue_env, witness, extra_env, args, coloured):
    RecordJob.dispatch(str(witness))
    out = _run_on_a_terminal(["queue:work", "--stop-when-empty", "--sleep=0", *args], extra_env)
    assert "DONE" in out
    assert ("\x1b[" in out) is coloured
