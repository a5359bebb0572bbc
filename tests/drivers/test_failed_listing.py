"""FailedJobProvider.recent on every failed-job store: newest first, --limit, --queue and --class filters."""
from __future__ import annotations

import pytest

from tests.fixtures.jobs import FailingJob, RecordJob


@pytest.fixture
def failed(backend, monkeypatch):
    """The backend's failed-job store: failed_jobs on SQL, the Redis provider on redis."""
    if backend.name == "redis":
        monkeypatch.setenv("QUEUE_FAILED_DRIVER", "redis")
        backend.manager.reset()
    return backend.manager.failed


def _log_failed(qm, job, queue: str) -> str:
    job_uuid, payload = qm.codec.create(job, queue, "database")
    qm.failed.log("database", queue, payload, f"RuntimeError: {queue}\nTraceback ...", job_uuid)
    return job_uuid


def test_recent_lists_newest_first_up_to_the_limit(backend, failed, tmp_path):
    ids = [_log_failed(backend.manager, RecordJob(str(tmp_path)), "default") for _ in range(7)]
    assert [r.uuid for r in failed.recent(3)] == ids[::-1][:3]
    assert [r.uuid for r in failed.recent()] == ids[::-1]


def test_recent_filters_by_queue_and_class_before_limiting(backend, failed, tmp_path):
    wanted = [_log_failed(backend.manager, FailingJob(str(tmp_path)), "emails") for _ in range(3)]
    for _ in range(4):  # newer rows that the filters must skip
        _log_failed(backend.manager, RecordJob(str(tmp_path)), "emails")
        _log_failed(backend.manager, FailingJob(str(tmp_path)), "other")
    assert [r.uuid for r in failed.recent(2, "emails", "FailingJob")] == wanted[::-1][:2]
    assert [r.uuid for r in failed.recent(None, "emails", "tests.fixtures.jobs:FailingJob")] == wanted[::-1]
    assert [r.uuid for r in failed.recent(None, "emails", "tests.fixtures.jobs.FailingJob")] == wanted[::-1]
    assert failed.recent(None, None, "Failing") == []  # a whole class name, not a substring
    assert len(failed.recent(None, "other")) == 4


def test_class_filter_treats_like_wildcards_literally(backend, failed, tmp_path):
    _log_failed(backend.manager, RecordJob(str(tmp_path)), "default")
    assert failed.recent(None, None, "Record%") == [] and failed.recent(None, None, "Record_ob") == []
