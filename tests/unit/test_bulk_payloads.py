"""Bulk dispatch's payload builder (BulkPayloads) writes what PayloadCodec.create writes, byte for byte."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from app.Jobs.JobState import JobState
from app.Queue.Database.tables import jobs as jobs_table
from app.Queue.Payload import BulkPayloads, PayloadCodec, uuid4_strings
from app.Queue.PayloadWriter import PayloadWriter
from tests.fixtures.core_jobs import (
    Colour, Level, ListTagsJob, Mood, PolicyJob, RetryAfterAliasJob, RetryUntilJob, SeedStyleJob,
)
from tests.fixtures.feature_jobs import PaymentJob, SecretJob
from tests.fixtures.jobs import DumpJob, NoopJob, RecordJob


def sample_jobs(path: str) -> list:
    """One job of each shape the builder treats differently."""
    prioritised = RecordJob(path, "p").with_priority(5)
    batched = RecordJob(path, "b")
    batched.batch_id, batched._batch_member = "batch-1", "member-1"
    preset = NoopJob()
    preset.job_id = "preset-\"id\""
    return [
        NoopJob(),                                   # class-level metadata, empty data
        RecordJob(path, "héllo ✓"),                  # plain data, non-ASCII kept as is
        DumpJob(path, when=datetime(2024, 5, 1, tzinfo=timezone.utc), amount=Decimal("1.5"),
                colour=Colour.RED, mood=Mood.CALM, level=Level.HIGH, ratio=0.25, nested={"a": [1, None]}, items=(1, 2)),
        ListTagsJob(),                               # tags as a class attribute
        RetryAfterAliasJob(path),                    # retry_after alias of backoff
        PolicyJob(path),                             # tags() method: built per job
        RetryUntilJob(path),                         # retry_until() method: built per job
        SeedStyleJob(path, "a@b"),                   # policy set on the instance
        prioritised,                                 # priority set on the instance
        batched,                                     # batch members ride in the envelope
        preset,                                      # uuid chosen before (unique locks do this)
    ]


@freeze_time("2026-01-02 03:04:05.678")
def test_bulk_payloads_equal_create_byte_for_byte(queue_env, witness, monkeypatch):
    codec = queue_env.codec
    builder = codec.bulk_builder(4)  # fewer uuids than jobs: the builder draws more
    fell_back: list[str] = []
    create = codec.create
    monkeypatch.setattr(codec, "create", lambda job, *a: fell_back.append(type(job).__name__) or create(job, *a))
    for job in sample_jobs(str(witness)):
        extra = job._payload_extra()
        job_uuid, fast = builder.create(job, "bulkq", "database", extra)
        job.job_id = job_uuid
        _, slow = create(job, "bulkq", "database", extra)
        assert fast == slow, type(job).__name__
    # Only jobs whose metadata is computed per instance take the general path.
    assert fell_back == ["PolicyJob", "RetryUntilJob", "SeedStyleJob", "RecordJob"]


@freeze_time("2026-01-02 03:04:05.678")  # retry_until() reads the clock
def test_bulk_payloads_are_accepted_by_the_worker_and_match_create_except_uuid_and_signature(queue_env, witness):
    codec = queue_env.codec
    builder = codec.bulk_builder(20)
    for job in sample_jobs(str(witness)):
        preset = job.job_id
        extra = job._payload_extra()
        fast_uuid, fast = builder.create(job, "bulkq", "database", extra)
        job.job_id = preset
        slow_uuid, slow = codec.create(job, "bulkq", "database", extra)
        fast_env, slow_env = codec.parse(fast), codec.parse(slow)  # parse verifies the signature
        assert (fast_env.pop("uuid"), slow_env.pop("uuid")) == (fast_uuid, slow_uuid)
        assert fast_env == slow_env, type(job).__name__
        restored = codec.restore(codec.parse(fast))
        assert type(restored) is type(job) and restored.job_id == fast_uuid
        assert restored.__dict__.items() >= {k: v for k, v in job.__dict__.items() if k in fast_env["data"]}.items()


def test_encrypted_jobs_in_a_bulk_are_encrypted_and_decrypt(queue_env, witness):
    codec = queue_env.codec
    builder = codec.bulk_builder(2)
    secret = SecretJob(str(witness), "s3cret")
    payment = PaymentJob(str(witness), "4242", "note")
    for job in (secret, payment):
        _, raw = builder.create(job, "default", "database", None)
        assert "s3cret" not in raw and "4242" not in raw
        assert json.loads(raw)["encrypted"] is True
        restored = codec.restore(codec.parse(raw))
        assert (restored.secret if job is secret else restored.card) == ("s3cret" if job is secret else "4242")


def test_a_queue_defined_as_encrypted_encrypts_plain_jobs_in_a_bulk(queue_env, witness):
    queue_env.define_queue("vault", encryption_enabled=True)
    builder = queue_env.codec.bulk_builder(1)
    _, raw = builder.create(RecordJob(str(witness), "hidden-tag"), "vault", "database", None)
    assert "hidden-tag" not in raw and json.loads(raw)["encrypted"] is True


def test_a_payload_signed_under_another_key_by_the_builder_is_refused(queue_env, witness):
    other = PayloadCodec(b"x" * 32, ["tests.fixtures"])
    _, raw = BulkPayloads(other, 1).create(RecordJob(str(witness)), "default", "database")
    assert other.parse(raw)["data"] == {"path": str(witness), "tag": "ran"}
    with pytest.raises(Exception, match="signature"):
        queue_env.codec.parse(raw)


def test_uuid4_strings_are_distinct_version_4_uuids():
    values = uuid4_strings(500)
    assert len(set(values)) == 500
    for value in values:
        parsed = uuid.UUID(value)
        assert str(parsed) == value
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_bulk_marks_every_job_pending_and_stores_signed_payloads(queue_env, witness):
    ids = queue_env.bulk([RecordJob(str(witness), str(i)) for i in range(5)] + [NoopJob()])
    for job_id in ids:
        status = queue_env.statuses.get(job_id)
        assert status is not None and status.state is JobState.PENDING and status.progress == 0.0
    with queue_env.engine().connect() as conn:
        rows = [r[0] for r in conn.execute(select(jobs_table.c.payload).order_by(jobs_table.c.id))]
    assert [queue_env.codec.parse(r)["uuid"] for r in rows] == ids
    assert [queue_env.codec.parse(r)["data"].get("tag") for r in rows] == ["0", "1", "2", "3", "4", None]


@pytest.mark.parametrize("key", [b"", b"k" * 32, b"x" * 64, b"y" * 65, bytes(range(200))])
def test_the_payload_writer_signs_with_the_standard_library_hmac(key):
    import hashlib
    import hmac

    writer = PayloadWriter(key)
    for body in ("{}", '{"a":1}', '{"t":"' + "héllo ✓" * 50 + '"}'):
        digest = hmac.new(key, body.encode(), hashlib.sha256).hexdigest()
        assert writer.sign_body(body) == body[:-1] + ',"signature":"' + digest + '"}'


def test_a_bulk_with_an_unserialisable_job_stores_nothing_and_leaves_no_pending_status(queue_env, witness, monkeypatch):
    from app.Queue.BulkDispatch import STATUS_SLICE
    from app.Queue.Database.tables import cache
    from app.Queue.errors import SerializationError
    from tests.fixtures.core_jobs import Opaque

    marked: list[int] = []
    mark = queue_env.statuses.mark_pending_many
    monkeypatch.setattr(queue_env.statuses, "mark_pending_many", lambda ids: marked.append(len(ids)) or mark(ids))
    jobs = [RecordJob(str(witness), str(i)) for i in range(STATUS_SLICE + 50)] + [DumpJob(str(witness), bad=Opaque())]
    with pytest.raises(SerializationError):
        queue_env.bulk(jobs)
    assert marked == [STATUS_SLICE]  # the first slice was marked while the rest was still being encoded ...
    with queue_env.engine().connect() as conn:
        assert conn.execute(select(cache.c.key).where(cache.c.key.like("status:%"))).all() == []  # ... and unmarked
        assert conn.execute(select(jobs_table.c.id)).all() == []


@freeze_time("2026-01-02 03:04:05.678")
def test_a_job_with_its_own_policy_first_in_a_bulk_does_not_set_the_metadata_of_the_next(queue_env, witness):
    codec = queue_env.codec
    builder = codec.bulk_builder(4)
    first = RecordJob(str(witness), "own").with_priority(9)
    first.max_tries = 2
    second = RecordJob(str(witness), "class")
    for job in (first, second):
        job_uuid, fast = builder.create(job, "bulkq", "database")
        job.job_id = job_uuid
        assert fast == codec.create(job, "bulkq", "database")[1]
    assert (codec.parse(fast)["priority"], codec.parse(fast)["maxTries"]) == (0, None)
