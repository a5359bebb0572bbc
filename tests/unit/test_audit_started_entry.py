"""The 'started' audit entry a worker buffers per job holds the envelope's metadata as `entry()` spells it."""
from __future__ import annotations

import time

import pytest
from freezegun import freeze_time

from app.Audit.AuditEntry import AuditEntry, tenant_of
from app.Audit.AuditTrail import AuditTrail
from app.Queue.events import JobProcessing
from app.Queue.QueueManager import QueueManager
from tests.fixtures.jobs import RecordJob

ENVELOPES = [
    {"uuid": "u1", "displayName": "RecordJob", "queue": "default", "connection": "database"},
    {"uuid": "u2", "displayName": "RecordJob", "queue": "q", "connection": "redis", "tenant": "acme"},
    {"uuid": "u3", "displayName": "RecordJob", "queue": "q", "connection": "redis", "tenant": 42},
    {"uuid": "u4", "displayName": "RecordJob", "queue": "q", "connection": "redis", "tenant": "t" * 300},
    {},
]


@pytest.mark.parametrize("envelope", ENVELOPES)
def test_on_processing_buffers_the_started_entry_of_the_envelope(queue_env: QueueManager, envelope: dict):
    trail = AuditTrail(queue_env)
    trail.batch = 10**6  # keep it in the buffer
    with freeze_time("2026-01-02 03:04:05.678"):
        trail.on_processing(JobProcessing(RecordJob("/tmp/w", "a"), envelope, 3))
        at = time.time()
    expected = AuditEntry("started", envelope.get("uuid"), envelope.get("displayName"), envelope.get("queue"),
                          envelope.get("connection"), tenant_of(envelope), 3, at, trail.host, trail.actor)
    (buffered,) = trail._buffer
    assert buffered == expected and type(buffered) is AuditEntry and buffered._asdict() == expected._asdict()
