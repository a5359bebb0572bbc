"""The worker's decode of a verified envelope: job classes are looked up once, refusals every time."""
from __future__ import annotations

from datetime import date

import pytest

from app.Queue.errors import InvalidPayloadError
from app.Queue.Payload import PayloadCodec
from tests.fixtures.jobs import RecordJob

KEY = b"k" * 32


def codec() -> PayloadCodec:
    return PayloadCodec(KEY, ["tests."])


def test_a_restored_job_gets_its_data_and_envelope_policy():
    c = codec()
    job = RecordJob("/tmp/x", "tag")
    job.max_tries, job.timeout = 4, 7
    job.extra = {"when": date(2026, 1, 2), "items": [1, (2, 3)], "n": None, "f": 1.5, "ok": True}
    _, payload = c.create(job, "q", "redis")
    restored = c.restore(c.parse(payload))
    assert type(restored) is RecordJob and restored.job_id
    assert (restored.path, restored.tag, restored.max_tries, restored.timeout, restored.queue, restored.connection) == (
        "/tmp/x", "tag", 4, 7, "q", "redis")
    assert restored.extra == {"when": date(2026, 1, 2), "items": [1, (2, 3)], "n": None, "f": 1.5, "ok": True}


def test_a_class_path_is_resolved_once_and_served_from_the_codec_after():
    c = codec()
    _, payload = c.create(RecordJob("/tmp/x", "a"), "q", "redis")
    envelope = c.parse(payload)
    first = c.restore(envelope)
    assert c._classes == {envelope["job"]: RecordJob}
    assert type(c.restore(envelope)) is type(first) is RecordJob


@pytest.mark.parametrize("path", ["os:system", "tests.fixtures.jobs:Nope", "tests.fixtures.jobs"])
def test_a_refused_class_path_is_refused_every_time_and_never_kept(path):
    c = codec()
    for _ in range(2):
        with pytest.raises(InvalidPayloadError):
            c.decode_job({"job": path, "data": {}})
    assert path not in c._classes


def test_data_that_is_not_an_object_is_refused():
    c = codec()
    with pytest.raises(InvalidPayloadError, match="must be an object"):
        c.decode_job({"job": "tests.fixtures.jobs:RecordJob", "data": [1, 2]})
