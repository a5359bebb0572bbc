"""A bulk dispatch keeps the cycle collector off while it runs and puts it back as it was, whatever happens."""
from __future__ import annotations

import gc

import pytest

from app.Queue.Support import collector


def test_paused_turns_the_collector_off_inside_and_back_on_after():
    assert gc.isenabled()
    with collector.paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_paused_turns_it_back_on_after_an_error():
    with pytest.raises(ValueError), collector.paused():
        raise ValueError("a job failed to encode")
    assert gc.isenabled()


def test_paused_leaves_a_collector_someone_else_turned_off_off():
    gc.disable()
    try:
        with collector.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_bulk_dispatch_runs_with_the_collector_off_and_restores_it(queue_env, tmp_path, monkeypatch):
    from app.Queue import BulkDispatch
    from tests.fixtures.jobs import RecordJob

    seen: list[bool] = []
    draft_all = BulkDispatch.BulkDispatch._draft_all
    monkeypatch.setattr(BulkDispatch.BulkDispatch, "_draft_all", lambda self: (seen.append(gc.isenabled()), draft_all(self))[1])
    ids = queue_env.bulk([RecordJob(str(tmp_path / "w")) for _ in range(3)])
    assert len(ids) == 3 and all(ids) and seen == [False] and gc.isenabled()
