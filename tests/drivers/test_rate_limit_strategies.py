"""Sliding-window and token-bucket rate limits beside the fixed window, on both cache stores (every backend)."""
from __future__ import annotations

import threading

import pytest
from freezegun import freeze_time

from app.Jobs.RateLimiter import RateLimit, limiter_for
from app.Jobs.RateLimitStrategies import SlidingWindowLimiter, TokenBucketLimiter
from app.Queue.Worker import Worker
from app.Queue.WorkerOptions import WorkerOptions
from tests.conftest import read_lines
from tests.drivers.conftest import Backend
from tests.fixtures.parity_jobs import StrategyLimitedJob

T0 = "2030-01-01 00:00:00"  # epoch-aligned for 10 s windows


def test_fixed_is_the_default_strategy(backend: Backend):
    assert RateLimit(1, 1).strategy == "fixed"
    assert type(limiter_for("sliding", backend.manager)) is SlidingWindowLimiter
    with pytest.raises(ValueError, match="strategy must be one of fixed, sliding, token_bucket"):
        RateLimit(1, 1, strategy="leaky")


def test_sliding_window_weighs_the_previous_window(backend: Backend):
    limiter = SlidingWindowLimiter(backend.manager.cache)
    with freeze_time(T0) as clock:
        clock.tick(9)
        assert limiter.attempt("s", 4, 10) is None
        assert limiter.attempt("s", 4, 10) is None
        assert limiter.attempt("s", 4, 10) is None
        assert limiter.attempt("s", 4, 10) is None
        assert limiter.attempt("s", 4, 10) is not None  # window full
        clock.tick(2)  # 11 s: a fixed window would allow 4 more now; sliding still counts 4 * 0.9
        wait = limiter.attempt("s", 4, 10)
        assert wait is not None and wait == pytest.approx(1.5 + 0.1)  # 4 * (1 - x/10) + 1 <= 4 from x = 2.5 s into the window
        clock.tick(1.5)
        assert limiter.attempt("s", 4, 10) is None
        assert limiter.attempt("s", 4, 10) is not None


def test_refused_hits_are_not_counted_by_sliding(backend: Backend):
    limiter = SlidingWindowLimiter(backend.manager.cache)
    with freeze_time(T0) as clock:
        assert limiter.attempt("r", 2, 10) is None
        assert limiter.attempt("r", 2, 10) is None
        for _ in range(5):
            assert limiter.attempt("r", 2, 10) is not None
        clock.tick(15)  # half-way through the next window: the previous one weighs 2 * 0.5
        assert limiter.attempt("r", 2, 10) is None  # counted refusals would make it 7 * 0.5 + 1 > 2


def test_token_bucket_allows_a_burst_then_one_per_interval(backend: Backend):
    limiter = TokenBucketLimiter(backend.manager.cache, backend.manager.locks)
    with freeze_time(T0) as clock:
        assert [limiter.attempt("t", 3, 6) for _ in range(3)] == [None, None, None]  # full bucket: burst of 3
        wait = limiter.attempt("t", 3, 6)
        assert wait == pytest.approx(2 + 0.1)  # one token per 2 s
        clock.tick(2)
        assert limiter.attempt("t", 3, 6) is None
        assert limiter.attempt("t", 3, 6) is not None
        clock.tick(6)  # refilled to capacity, never beyond
        assert [limiter.attempt("t", 3, 6) for _ in range(4)] == [None, None, None, pytest.approx(2.1)]


def test_token_bucket_never_hands_out_more_tokens_than_it_has_under_concurrency(backend: Backend):
    limiter = TokenBucketLimiter(backend.manager.cache, backend.manager.locks)
    allowed: list[bool] = []
    with freeze_time(T0):
        def take() -> None:
            for _ in range(5):
                allowed.append(limiter.attempt("c", 8, 600) is None)

        threads = [threading.Thread(target=take) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert allowed.count(True) == 8


@pytest.mark.parametrize("strategy", ["sliding", "token_bucket"])
def test_worker_releases_jobs_over_a_strategy_limit_without_using_attempts(backend: Backend, witness, strategy):
    with freeze_time(T0) as clock:
        for n in range(3):
            StrategyLimitedJob(witness, n, strategy).on_connection(backend.connection).dispatch()
        work = Worker(backend.manager, WorkerOptions(stop_when_empty=True, sleep=0, max_tries=1))
        work.daemon(backend.connection, ["default"])
        assert len(read_lines(witness)) == 2
        assert backend.manager.get_stats("default", backend.connection).delayed == 1
        clock.tick(16)  # sliding: 2 * (1 - 5/10) + 1 fits from 15 s; token bucket: a token every 5 s
        Worker(backend.manager, WorkerOptions(stop_when_empty=True, sleep=0, max_tries=1)).daemon(backend.connection, ["default"])
    assert sorted(read_lines(witness)) == ["limited 0", "limited 1", "limited 2"]
    assert backend.manager.failed.all() == []
