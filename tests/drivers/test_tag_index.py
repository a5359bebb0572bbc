"""The per-tag index on every backend: failed jobs' tags and monitored tags of completed jobs, written by real workers."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.Horizon.JobRepository import JobRepository
from app.Horizon.Paging import Filters, PageRequest
from app.Horizon.TagIndexFactory import completed_tag_index, failed_tag_index
from app.Horizon.TagsRepository import TagsRepository
from app.Queue.FailedRetrier import retry_failed
from app.Queue.Support.time import now
from config import env as env_mod
from tests.core_helpers import keep_signal_handlers, work  # noqa: F401 - fixture
from tests.dashboard_support import empty_dashboard_tables
from tests.drivers.conftest import Backend
from tests.fixtures.dashboard_jobs import AlwaysFailsJob, TaggedJob


def _failed_stores(backend: Backend) -> list[str]:
    """Where failed records live: the database, and on Redis also Redis itself (QUEUE_FAILED_DRIVER=redis)."""
    return ["database", "redis"] if backend.name == "redis" else ["database"]


def test_failed_jobs_are_found_by_tag_and_stop_counting_once_their_record_is_gone(
        backend: Backend, witness: Path, monkeypatch: pytest.MonkeyPatch):
    for failed_driver in _failed_stores(backend):
        monkeypatch.setenv("QUEUE_FAILED_DRIVER", failed_driver)
        env_mod.reload()
        qm = backend.manager
        qm.reset()
        empty_dashboard_tables()
        first = str(AlwaysFailsJob(str(witness), 1).on_connection(backend.connection).dispatch())
        work(qm, connection=backend.connection)
        second = str(AlwaysFailsJob(str(witness), 2).on_connection(backend.connection).dispatch())
        work(qm, connection=backend.connection)

        index, repo = failed_tag_index(qm), JobRepository(qm)
        assert type(index).__name__ == ("RedisTagIndex" if failed_driver == "redis" else "SqlTagIndex")
        assert (index.count("failing", "failed"), index.count("user:1", "failed")) == (2, 1), failed_driver
        assert index.ids("failing", "failed", 0, 10) == [second, first]
        page = repo.failed(PageRequest(filters=Filters(tag="failing")))
        assert (page.total, [j["id"] for j in page.items]) == (2, [second, first])
        assert [j["id"] for j in repo.failed(PageRequest(1, 1, Filters(tag="failing"))).items] == [second]
        assert [j["id"] for j in repo.failed(PageRequest(filters=Filters(tag="user:1"))).items] == [first]
        assert repo.failed(PageRequest(filters=Filters(tag="nobody"))).total == 0
        with monkeypatch.context() as m:  # counts stop at the cap (10,000) and say so
            m.setattr("app.Horizon.TagsRepository.COUNT_CAP", 1)
            m.setattr("app.Horizon.JobRepository.TAG_COUNT_CAP", 1)
            TagsRepository(qm).monitor("failing")
            assert TagsRepository(qm).summary(repo, 0) == [{"tag": "failing", "completed": 0, "failed": 1, "capped": ["failed"]}]
            TagsRepository(qm).stop("failing")

        assert qm.failed.forget(first)  # as `queue:forget` does: the index is not told
        assert index.count("failing", "failed") == 1 and repo.failed_count_since(0, "user:1") == 0
        assert [j["id"] for j in repo.failed(PageRequest(filters=Filters(tag="failing"))).items] == [second]

        assert retry_failed(qm, [second], lambda ident: None) == 1
        assert index.count("failing", "failed") == 0  # retried: no failed record, no count
        work(qm, connection=backend.connection)  # fails again: one entry per tag still
        assert index.count("failing", "failed") == 1 and index.ids("user:2", "failed", 0, 10) == [second]

        index.prune("failed", now() + 1)
        assert index.count("failing", "failed") == 0 and qm.failed.find(second) is not None
        qm.failed.forget(second)


def test_completed_jobs_are_indexed_under_monitored_tags_only(backend: Backend, witness: Path):
    qm = backend.manager
    empty_dashboard_tables()
    tags = TagsRepository(qm)
    tags.monitor("user:1")
    TaggedJob(str(witness), 1, ["shared"]).on_connection(backend.connection).dispatch()
    TaggedJob(str(witness), 2, ["shared"]).on_connection(backend.connection).dispatch()
    AlwaysFailsJob(str(witness), 1).on_connection(backend.connection).dispatch()
    work(qm, connection=backend.connection)

    index = completed_tag_index(qm)
    assert index.count("user:1", "completed") == 1
    assert index.count("shared", "completed") == 0 and index.count("user:2", "completed") == 0  # not monitored
    assert index.count("user:1", "completed", since=now() + 60) == 0
    assert tags.summary(JobRepository(qm), now() - 3600) == [{"tag": "user:1", "completed": 1, "failed": 1}]

    tags.stop("user:1")
    assert index.count("user:1", "completed") == 0
    tags.monitor("user:1")
    TaggedJob(str(witness), 1).on_connection(backend.connection).dispatch()
    work(qm, connection=backend.connection)
    assert index.count("user:1", "completed") == 1
    index.prune("completed", now() + 1)
    assert index.count("user:1", "completed") == 0
