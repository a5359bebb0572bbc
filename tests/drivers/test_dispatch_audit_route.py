"""A single dispatch heard only by the audit trail goes to it without a JobQueued event, and a dispatch
that fills the trail's buffer sends it without waiting; other listeners still hear every dispatch."""
from __future__ import annotations

import pytest

from app.Audit.AuditTrail import flush, make_store
from app.Queue.events import JobQueued
from tests.drivers.audit_support import trail_noting_waits
from tests.drivers.conftest import Backend
from tests.fixtures.jobs import RecordJob


@pytest.fixture(autouse=True)
def empty_audit(backend: Backend):
    """The session's MariaDB keeps its tables between tests: start each test with an empty trail."""
    make_store(backend.manager).prune(4e9)


def _dispatched(backend: Backend) -> list:
    flush(backend.manager)
    return [e for e in make_store(backend.manager).query(limit=0) if e.event == "dispatched"]


def test_a_dispatch_only_the_trail_hears_is_recorded_with_its_queue_connection_and_tenant(backend: Backend, tmp_path):
    qm, conn = backend.manager, backend.connection
    qm.config  # boots the listeners, and with them the trail
    assert qm.events.listeners.get(JobQueued) == [qm.audit_trail.on_queued]  # the route this test is about
    plain = RecordJob(str(tmp_path / "w")).on_connection(conn).dispatch()
    tenanted = RecordJob(str(tmp_path / "w")).for_tenant("acme").on_queue("mail").on_connection(conn).dispatch()
    entries = _dispatched(backend)
    assert [(e.job_id, e.job_class, e.queue, e.connection, e.tenant, e.attempt, e.detail) for e in entries] == [
        (plain, "RecordJob", "default", conn, None, None, None),
        (tenanted, "RecordJob", "mail", conn, "acme", None, None)]
    assert all(e.at > 0 and e.host and e.actor for e in entries)


def test_another_listener_hears_each_dispatch_and_the_trail_records_each_once(backend: Backend, tmp_path):
    qm, conn = backend.manager, backend.connection
    heard: list[tuple[str, str, str]] = []
    qm.events.listen(JobQueued, lambda event: heard.append((event.uuid, event.queue, event.connection)))
    ids = [RecordJob(str(tmp_path / "w")).on_connection(conn).dispatch() for _ in range(3)]
    assert heard == [(job_id, "default", conn) for job_id in ids]
    assert [e.job_id for e in _dispatched(backend)] == ids


def test_a_trail_that_is_not_listening_records_nothing(backend: Backend, tmp_path):
    qm, conn = backend.manager, backend.connection
    qm.config
    qm.events.forget(JobQueued, qm.audit_trail.on_queued)
    RecordJob(str(tmp_path / "w")).on_connection(conn).dispatch()
    assert _dispatched(backend) == []


def test_a_dispatch_that_fills_the_buffer_sends_it_without_waiting_and_flush_syncs_it(backend: Backend, tmp_path,
                                                                                     monkeypatch):
    qm, conn = backend.manager, backend.connection
    trail, waits = trail_noting_waits(qm, monkeypatch, 10)
    ids = [RecordJob(str(tmp_path / "w")).on_connection(conn).dispatch() for _ in range(25)]
    assert waits == [False, False] and len(trail._buffer) == 5  # two full buffers sent, unwaited
    flush(qm)  # waits for what was sent before, then writes the rest
    assert waits == [False, False, True]
    assert [e.job_id for e in make_store(qm).query(limit=0) if e.event == "dispatched"] == ids
