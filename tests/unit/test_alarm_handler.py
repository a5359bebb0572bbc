"""The one SIGALRM timeout: a worker's runner installs its handler once and restores the previous one on close."""
from __future__ import annotations

import signal
import time

import pytest

from app.Queue.errors import JobTimeoutError
from app.Queue.JobRunner import JobRunner
from tests.fixtures.jobs import NoopJob


class Slow(NoopJob):
    def handle(self) -> None:
        time.sleep(2)


def test_handler_stays_between_jobs_and_each_job_gets_its_own_timer():
    previous = signal.getsignal(signal.SIGALRM)
    runner = JobRunner(keep_alarm_handler=True)
    try:
        runner.run(NoopJob(), timeout=5)
        installed = signal.getsignal(signal.SIGALRM)
        assert installed is not previous
        with pytest.raises(JobTimeoutError, match="Slow timed out after 0.2 s"):
            runner.run(Slow(), timeout=0.2)
        runner.run(NoopJob(), timeout=0.2)
        time.sleep(0.3)  # the timer was disarmed after the job: nothing fires now
        assert signal.getsignal(signal.SIGALRM) is installed
    finally:
        runner.close()
    assert signal.getsignal(signal.SIGALRM) is previous


def test_a_plain_runner_restores_the_handler_after_every_job():
    previous = signal.getsignal(signal.SIGALRM)
    runner = JobRunner()
    runner.run(NoopJob(), timeout=5)
    assert signal.getsignal(signal.SIGALRM) is previous
    runner.close()


def test_a_plain_runner_times_out_and_still_restores_the_handler():
    previous = signal.getsignal(signal.SIGALRM)
    runner = JobRunner()
    with pytest.raises(JobTimeoutError, match="Slow timed out after 0.2 s"):
        runner.run(Slow(), timeout=0.2)
    assert signal.getsignal(signal.SIGALRM) is previous
    runner.close()
