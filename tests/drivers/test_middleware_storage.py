"""Middleware that keeps state in the shared store (locks, counters), and queue capacity, on every backend."""
from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun import freeze_time

from app.Jobs.Middleware import WithoutOverlapping
from app.Queue.errors import QueueFullError
from app.Queue.Worker import Worker
from app.Queue.WorkerOptions import WorkerOptions
from tests.conftest import read_lines
from tests.drivers.conftest import Backend
from tests.fixtures.feature_jobs import PlainJob
from tests.fixtures.middleware_jobs import overlap, rate_limited, throttled


def work(backend: Backend) -> None:
    Worker(backend.manager, WorkerOptions(memory=0, stop_when_empty=True, sleep=0)).daemon(backend.connection, ["default"])


def test_without_overlapping_releases_a_job_whose_key_is_running(backend: Backend, witness):
    job = overlap(str(witness))
    key = WithoutOverlapping("acct-1").lock_key(job)
    backend.manager.locks.acquire(key, "another-run", 60)  # another worker is running this key
    with freeze_time() as clock:
        job.on_connection(backend.connection).dispatch()
        work(backend)
        assert read_lines(witness) == [] and backend.manager.get_stats("default", backend.connection).delayed == 1
        backend.manager.locks.release(key, "another-run")
        clock.tick(timedelta(seconds=6))
        work(backend)
    assert read_lines(witness) == ["run 2"]
    assert backend.manager.locks.owner(key) is None  # freed after the run


def test_without_overlapping_with_release_after_none_drops_the_blocked_job(backend: Backend, witness):
    job = overlap(str(witness), release_after=None)
    backend.manager.locks.acquire(WithoutOverlapping("acct-1").lock_key(job), "another-run", 60)
    job.on_connection(backend.connection).dispatch()
    work(backend)
    assert read_lines(witness) == [] and backend.manager.size("default", backend.connection) == 0
    assert backend.manager.failed.all() == []


def test_throttle_holds_a_job_back_after_max_exceptions_in_the_window(backend: Backend, witness):
    with freeze_time() as clock:
        throttled(str(witness)).on_connection(backend.connection).dispatch()
        for _ in range(3):
            work(backend)
            clock.tick(timedelta(seconds=6))  # past the 5 s backoff
        assert read_lines(witness) == ["run 1", "run 2"]  # the third attempt did not run handle
        assert backend.manager.get_stats("default", backend.connection).delayed == 1
        clock.tick(timedelta(seconds=60))  # the 60 s window ended
        work(backend)
    assert read_lines(witness)[-1].startswith("run ")
    assert len(read_lines(witness)) == 3


def test_rate_limited_middleware_releases_jobs_over_the_limit(backend: Backend, witness):
    with freeze_time() as clock:
        rate_limited(str(witness)).on_connection(backend.connection).dispatch()
        rate_limited(str(witness)).on_connection(backend.connection).dispatch()
        work(backend)
        assert read_lines(witness) == ["run 1"]
        # The release waits the window (60 s) plus the limiter's 0.1 s margin, and the database
        # stores available_at in whole seconds rounded up: up to 62 s after the first run.
        clock.tick(timedelta(seconds=62))
        work(backend)
    assert read_lines(witness) == ["run 1", "run 2"]  # the release counted as an attempt (Laravel's RateLimited)


def test_define_queue_max_jobs_refuses_a_push_beyond_the_limit(backend: Backend, witness):
    backend.manager.define_queue("small", connection=backend.connection, max_jobs=2)
    PlainJob(witness, "a").on_queue("small").dispatch()
    PlainJob(witness, "b").on_queue("small").dispatch()
    with pytest.raises(QueueFullError, match="queue 'small' is full: 2 jobs stored, max_jobs=2"):
        PlainJob(witness, "c").on_queue("small").dispatch()
    with pytest.raises(QueueFullError):
        backend.manager.bulk([PlainJob(witness, "d")], queue="small", connection=backend.connection)
    assert backend.manager.size("small", backend.connection) == 2
