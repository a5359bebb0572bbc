"""Single dispatch keeps the envelope header per class, queue and connection: it never serves a stale one,
and the uuid pool it draws from hands out distinct version-4 uuids, also across a fork."""
from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timezone

from freezegun import freeze_time

from app.Queue.Payload import PayloadCodec
from app.Queue.Support.uuids import POOL_SIZE, UuidPool
from tests.fixtures.core_jobs import RetryUntilJob
from tests.fixtures.jobs import NoopJob, RecordJob


def envelope(codec: PayloadCodec, job, queue: str = "q") -> dict:
    return codec.parse(codec.create(job, queue, "database")[1])


@freeze_time("2026-01-02 03:04:05.678")
def test_a_cached_header_writes_the_same_bytes_as_a_codec_that_never_saw_the_class(queue_env, witness):
    warm = queue_env.codec
    for _ in range(3):  # the first call fills the cache, the others read it
        job = RecordJob(str(witness), "x")
        job.job_id = "fixed-uuid"
        _, cached = warm.create(job, "q", "database")
    cold = PayloadCodec(warm.key, warm.allowed, (), warm.encrypter)
    assert cold.create(job, "q", "database")[1] == cached


def test_a_class_attribute_changed_after_a_dispatch_is_in_the_next_payload(queue_env, monkeypatch):
    codec = queue_env.codec
    assert envelope(codec, NoopJob())["maxTries"] is None
    monkeypatch.setattr(NoopJob, "max_tries", 3)
    assert envelope(codec, NoopJob())["maxTries"] == 3
    monkeypatch.setattr(NoopJob, "timeout", 2.5)
    assert envelope(codec, NoopJob())["timeout"] == 2.5
    monkeypatch.setattr(NoopJob, "retry_until", datetime(2031, 1, 1, tzinfo=timezone.utc))
    assert envelope(codec, NoopJob())["retryUntil"] == datetime(2031, 1, 1, tzinfo=timezone.utc).timestamp()


def test_an_instance_setting_applies_to_that_job_only(queue_env):
    codec = queue_env.codec
    special = NoopJob()
    special.timeout, special.priority = 7, 4
    assert (envelope(codec, special)["timeout"], envelope(codec, special)["priority"]) == (7, 4)
    plain = envelope(codec, NoopJob())
    assert (plain["timeout"], plain["priority"]) == (None, 0)


def test_the_header_names_each_queue_and_connection_it_was_made_for(queue_env):
    codec = queue_env.codec
    assert envelope(codec, NoopJob(), "one")["queue"] == "one"
    assert envelope(codec, NoopJob(), "two")["queue"] == "two"
    _, raw = codec.create(NoopJob(), "two", "redis")
    assert json.loads(raw)["connection"] == "redis"


def test_a_list_backoff_changed_in_place_is_in_the_next_payload(queue_env):
    codec = queue_env.codec
    job = NoopJob()
    job.backoff = [1, 5, 30]
    assert envelope(codec, job)["backoff"] == [1, 5, 30]
    job.backoff.append(90)  # the very list object the first header was made from
    assert envelope(codec, job)["backoff"] == [1, 5, 30, 90]


def test_tags_and_retry_until_methods_are_asked_at_each_dispatch(queue_env, witness, monkeypatch):
    codec = queue_env.codec
    calls = iter(range(100))
    monkeypatch.setattr(NoopJob, "tags", lambda self: [f"call-{next(calls)}"], raising=False)
    assert envelope(codec, NoopJob())["tags"] == ["call-0"]
    assert envelope(codec, NoopJob())["tags"] == ["call-1"]
    with freeze_time("2026-01-02 00:00:00"):
        first = envelope(codec, RetryUntilJob(str(witness)))["retryUntil"]
    with freeze_time("2026-01-02 00:01:00"):
        second = envelope(codec, RetryUntilJob(str(witness)))["retryUntil"]
    assert second - first == 60


def test_a_queue_defined_as_encrypted_after_a_dispatch_encrypts_the_next_one(queue_env, witness):
    codec = queue_env.codec
    assert "encrypted" not in envelope(codec, RecordJob(str(witness), "plain-tag"), "vault")
    queue_env.define_queue("vault", encryption_enabled=True)
    _, raw = codec.create(RecordJob(str(witness), "hidden-tag"), "vault", "database")
    assert "hidden-tag" not in raw and json.loads(raw)["encrypted"] is True


def test_the_uuid_pool_hands_out_distinct_version_4_uuids_beyond_one_refill():
    pool = UuidPool()
    values = [pool.take() for _ in range(3 * POOL_SIZE + 1)]
    assert len(set(values)) == len(values)
    for value in values:
        parsed = uuid.UUID(value)
        assert str(parsed) == value and parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_a_forked_child_never_takes_a_uuid_its_parent_drew_before_the_fork():
    pool = UuidPool()
    pool.take()  # the parent now holds POOL_SIZE - 1 drawn uuids
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it takes, then leave without running pytest's teardown
        try:
            os.write(write, ",".join(pool.take() for _ in range(POOL_SIZE)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split(","))
    os.waitpid(pid, 0)
    parent = {pool.take() for _ in range(POOL_SIZE - 1)}
    assert len(child) == POOL_SIZE and not child & parent
