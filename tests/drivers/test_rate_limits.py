"""Rate limits on every backend: fixed windows from the first hit, shared by workers, free of attempts."""
from __future__ import annotations

import time

import pytest
from freezegun import freeze_time

from app.Jobs.RateLimiter import SKEW_MARGIN, Limiter
from app.Queue.QueueManager import QueueManager
from app.Queue.Worker import Worker
from app.Queue.WorkerOptions import WorkerOptions
from tests.conftest import read_lines
from tests.drivers.conftest import Backend
from tests.drivers.conftest import cluster_backend
from tests.fixtures.feature_jobs import LimitedJob, PlainJob
from tests.support import start_worker, stop, wait_until

backend = cluster_backend  # this file also runs on a Redis Cluster (id "redis-cluster")


def test_window_starts_at_the_first_hit_and_allows_max_hits(backend: Backend):
    limiter = Limiter(backend.manager.cache)
    with freeze_time("2030-01-01 00:00:00.500") as clock:
        assert limiter.attempt("k", 2, 3) is None
        clock.tick(1)
        assert limiter.attempt("k", 2, 3) is None
        assert limiter.attempt("k", 2, 3) == pytest.approx(2 + SKEW_MARGIN)
        clock.tick(2)  # 3.0 s after the first hit: the window ended
        assert limiter.attempt("k", 2, 3) is None  # opens the next window at 03.500
        clock.tick(2.9)
        assert limiter.attempt("k", 2, 3) is None
        assert limiter.attempt("k", 2, 3) is not None
        assert limiter.attempts("k") == 3
        clock.tick(0.2)
        assert limiter.attempt("k", 2, 3) is None


def test_keys_are_counted_separately(backend: Backend):
    limiter = Limiter(backend.manager.cache)
    with freeze_time():
        assert limiter.attempt("a", 1, 60) is None
        assert limiter.attempt("b", 1, 60) is None
        assert limiter.attempt("a", 1, 60) is not None


def test_limited_job_is_released_without_using_its_attempt(backend: Backend, witness):
    with freeze_time() as clock:
        for n in range(3):
            LimitedJob(witness, n).on_connection(backend.connection).dispatch()
        work(backend)
        assert len(read_lines(witness)) == 2
        assert backend.manager.get_stats("default", backend.connection).delayed == 1
        clock.tick(3 + SKEW_MARGIN + 1)
        work(backend)
    runs = read_lines(witness)
    assert len(runs) == 3 and all(line.endswith(" 1") for line in runs)  # attempts == 1 each: max_tries=1 held
    assert backend.manager.failed.all() == []


def test_define_queue_and_rate_limit_limit_a_whole_queue(backend: Backend, witness):
    backend.manager.define_queue("capped", connection=backend.connection, rate_limit_enabled=True,
                                 rate_limit_max=1, rate_limit_window=60)
    QueueManager.rate_limit("default", max_jobs=2, per_seconds=60)
    with freeze_time():
        for queue in ("capped", "capped", "default", "default", "default"):
            PlainJob(witness, queue).on_connection(backend.connection).on_queue(queue).dispatch()
        Worker(backend.manager, WorkerOptions(memory=0, stop_when_empty=True, sleep=0, max_tries=1)).daemon(backend.connection, ["capped", "default"])
    assert sorted(read_lines(witness)) == ["plain capped", "plain default", "plain default"]
    assert backend.manager.failed.all() == []


def work(backend: Backend) -> None:
    Worker(backend.manager, WorkerOptions(memory=0, stop_when_empty=True, sleep=0, max_tries=1)).daemon(backend.connection, ["default"])


@pytest.mark.slow
def test_two_workers_never_exceed_two_jobs_per_three_seconds(backend: Backend, witness, tmp_path):
    for n in range(6):
        LimitedJob(witness, n).on_connection(backend.connection).dispatch()
    args = [backend.connection, "--sleep=0.05", "--tries=1"]
    workers = [start_worker(args, env=backend.env, log=tmp_path / f"w{i}.log") for i in range(2)]
    try:
        assert wait_until(lambda: len(read_lines(witness)) >= 6, timeout=40), read_lines(witness)
        time.sleep(0.3)  # a seventh run would show up here
    finally:
        for proc in workers:
            stop(proc)
    runs = [line.split() for line in read_lines(witness)]
    assert sorted(int(r[1]) for r in runs) == list(range(6)) and all(r[2] == "1" for r in runs)
    starts = sorted(float(r[0]) for r in runs)
    first = starts[0]
    for k in range(int((starts[-1] - first) // 3) + 1):
        in_window = [s for s in starts if first + 3 * k <= s < first + 3 * (k + 1)]
        assert len(in_window) <= 2, (k, in_window, starts)
    assert starts[-1] - first >= 6  # three windows were needed
    assert backend.manager.failed.all() == []
