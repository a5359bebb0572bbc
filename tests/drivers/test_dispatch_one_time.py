"""A single dispatch stamps its payload's createdAt and its pending status's updated_at with one time
(taken once, spelt once), on every backend; a status written outside a dispatch still takes its own time."""
from __future__ import annotations

import json
import time

from app.Jobs.JobState import JobState
from tests.drivers.conftest import Backend
from tests.fixtures.jobs import RecordJob


def _stored_envelope(backend: Backend) -> dict:
    driver = backend.manager.connection(backend.connection)
    reserved = driver.pop("default", "one-time-test")
    assert reserved is not None
    return json.loads(reserved.payload)


def test_created_at_and_the_pending_status_share_one_time(backend: Backend, witness):
    before = time.time()
    job_id = RecordJob(str(witness), "hello").on_connection(backend.connection).dispatch()
    after = time.time()
    status = backend.manager.statuses.get(job_id)
    envelope = _stored_envelope(backend)
    assert envelope["uuid"] == job_id
    assert status is not None and status.state == JobState.PENDING
    assert before <= envelope["createdAt"] <= after
    assert status.updated_at == envelope["createdAt"]


def test_a_later_dispatch_gets_a_later_time_and_a_plain_mark_its_own(backend: Backend, witness):
    first = RecordJob(str(witness), "a").on_connection(backend.connection).dispatch()
    time.sleep(0.01)
    second = RecordJob(str(witness), "b").on_connection(backend.connection).dispatch()
    statuses = backend.manager.statuses
    assert statuses.get(second).updated_at > statuses.get(first).updated_at
    statuses.mark(first, JobState.PENDING, at=123.5)
    assert statuses.get(first).updated_at == 123.5
    started = time.time()
    statuses.mark(second, JobState.PENDING)
    assert statuses.get(second).updated_at >= started
