"""A retried job that fails again before the retry has forgotten the old record keeps its new record.

The retry re-queues the payload, then deletes the failed record it read. A fast worker can run
the re-queued job and log a new failure in between; that failure is the evidence of the last
attempt and must stay. A repeated failure is stored under a new id, and the retry deletes only
the record with the id it read. Proven on every driver, and on the Redis failed-job provider.
"""
from __future__ import annotations

import pytest

from app.Jobs.JobState import JobState
from app.Queue.FailedRetrier import retry_failed
from tests.drivers.conftest import Backend
from tests.fixtures.jobs import RecordJob


@pytest.fixture(params=["default", "redis-provider"])
def failed_store(request: pytest.FixtureRequest, backend: Backend, monkeypatch: pytest.MonkeyPatch) -> Backend:
    if request.param == "redis-provider":
        if backend.name != "redis":
            pytest.skip("the Redis failed-job provider runs beside the Redis driver")
        from config import env as env_mod

        monkeypatch.setenv("QUEUE_FAILED_DRIVER", "redis")
        env_mod.reload()
        backend.manager.reset()
    return backend


def _failed_once(backend: Backend) -> tuple[str, str]:
    qm = backend.manager
    job_uuid, payload = qm.codec.create(RecordJob("/dev/null"), "default", backend.connection)
    qm.failed.log(backend.connection, "default", payload, "RuntimeError: first", job_uuid)
    return job_uuid, payload


def test_a_failure_logged_after_the_read_survives_the_forget(failed_store: Backend):
    qm = failed_store.manager
    job_uuid, payload = _failed_once(failed_store)
    read = qm.failed.find(job_uuid)
    assert read is not None

    qm.failed.log(failed_store.connection, "default", payload, "RuntimeError: second", job_uuid)  # the worker, meanwhile

    assert qm.failed.forget_record(read) is False
    kept = qm.failed.find(job_uuid)
    assert kept is not None and kept.exception == "RuntimeError: second" and kept.id != read.id
    assert qm.failed.count() == 1


def test_forget_record_deletes_the_record_it_was_given(failed_store: Backend):
    qm = failed_store.manager
    job_uuid, _ = _failed_once(failed_store)
    read = qm.failed.find(job_uuid)
    assert read is not None and qm.failed.forget_record(read) is True
    assert qm.failed.find(job_uuid) is None and qm.failed.forget_record(read) is False


def test_a_retry_racing_a_refailure_keeps_the_newest_evidence(failed_store: Backend):
    qm = failed_store.manager
    job_uuid, payload = _failed_once(failed_store)
    driver = qm.connection(failed_store.connection)
    push = driver.push

    def push_then_fail_again(raw: str, queue: str | None = None, *args: object, **kwargs: object) -> object:
        result = push(raw, queue, *args, **kwargs)  # type: ignore[arg-type]
        qm.failed.log(failed_store.connection, "default", payload, "RuntimeError: again", job_uuid)
        return result

    driver.push = push_then_fail_again  # the worker's failure lands between the push and the forget
    try:
        assert retry_failed(qm, [job_uuid], pytest.fail) == 1
    finally:
        del driver.push
    kept = qm.failed.find(job_uuid)
    assert kept is not None and kept.exception == "RuntimeError: again"
    assert qm.size("default", failed_store.connection) == 1
    assert qm.statuses.get(job_uuid).state == JobState.PENDING  # type: ignore[union-attr]
