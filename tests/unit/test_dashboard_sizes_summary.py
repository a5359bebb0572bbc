"""Very big SQL queues are sized from a count a few seconds old, recounted in the background; small ones exactly."""
from __future__ import annotations

import pytest

from app.Horizon import SizesSummary
from app.Horizon.StatsRepository import StatsRepository
from tests.fixtures.jobs import RecordJob
from tests.support import wait_until


def _pending(qm) -> int:
    return StatsRepository(qm).sizes("database", "default").pending


def test_small_queues_are_counted_on_every_read(queue_env, witness):
    RecordJob.dispatch(str(witness), "a")
    assert _pending(queue_env) == 1
    RecordJob.dispatch(str(witness), "b")
    assert _pending(queue_env) == 2


def test_a_big_queue_answers_its_last_count_and_recounts_it_in_the_background_once_stale(
        queue_env, witness, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(SizesSummary, "SUMMARY_FROM_JOBS", 2)  # "big" from 2 jobs, for the test
    for n in range(2):
        RecordJob.dispatch(str(witness), n)
    assert _pending(queue_env) == 2
    RecordJob.dispatch(str(witness), 3)
    assert _pending(queue_env) == 2  # the summary, not a new count
    monkeypatch.setattr(SizesSummary, "STALE_SECONDS", 0.0)
    assert wait_until(lambda: _pending(queue_env) == 3, timeout=10)  # a stale read started a background recount
    queue_env.connection("database").clear("default")
    assert wait_until(lambda: _pending(queue_env) == 0, timeout=10)
    assert _pending(queue_env) == 0 and not SizesSummary.summary_for(queue_env.engine())._counts  # small again: exact


def test_the_oldest_ready_job_sets_the_wait_not_delayed_or_reserved_ones(queue_env, witness):
    from freezegun import freeze_time

    repo = StatsRepository(queue_env)
    with freeze_time("2026-03-02 09:00:00") as frozen:
        assert repo.oldest_wait("database", "default") is None
        RecordJob(str(witness), "later").delay(3600).dispatch()
        frozen.tick(10)
        RecordJob(str(witness), "first").dispatch()
        frozen.tick(5)
        RecordJob(str(witness), "second").dispatch()
        frozen.tick(30)
        assert repo.oldest_wait("database", "default") == 35.0
        queue_env.connection("database").pop("default", "test-worker")  # the oldest ready job is now reserved
        assert repo.oldest_wait("database", "default") == 30.0
