"""PayloadCodec.parse reads the signed part of a payload: the envelope (and any error) is json.loads's of the whole text,
without its signature member, for payloads as the writer makes them and for the odd ones a key holder could sign."""
from __future__ import annotations

import json

import pytest

from app.Queue.errors import InvalidPayloadError
from app.Queue.Payload import PayloadCodec
from app.Queue.PayloadWriter import PayloadWriter
from tests.fixtures.jobs import RecordJob

KEY = b"k" * 32


def _expected(raw: str) -> dict:
    envelope = json.loads(raw)
    envelope.pop("signature", None)
    return envelope


@pytest.fixture
def codec() -> PayloadCodec:
    return PayloadCodec(KEY, ["tests.fixtures"])


def test_a_written_payload_parses_to_json_loads_envelope_without_its_signature(codec: PayloadCodec):
    for job in (RecordJob("/tmp/w", "a"), RecordJob("/tmp/w", "ü\u2028\"x\"")):
        _, raw = codec.create(job, "default", "redis")
        envelope = codec.parse(raw)
        assert envelope == _expected(raw) and list(envelope) == list(_expected(raw))
        assert "signature" not in envelope
        assert codec.parse(raw.encode()) == envelope


# Bodies a key holder could sign: a signature member inside the signed part, duplicate keys, whitespace,
# nesting, an empty object, a non-object, and text that is not JSON.
BODIES = ['{"job":"tests.fixtures.jobs:RecordJob","signature":"inner","data":{}}',
          '{"job":"a","job":"tests.fixtures.jobs:RecordJob","uuid":"u","uuid":"v"}',
          '{ "job" : "tests.fixtures.jobs:RecordJob" , "n": [1, 2.5e3, {"x": null}] }',
          ' {"job":"tests.fixtures.jobs:RecordJob"}',
          '{"job":"tests.fixtures.jobs:RecordJob","createdAt":1796167268.5317266,"big":123456789012345678901234567890}']


@pytest.mark.parametrize("body", BODIES)
def test_odd_signed_bodies_parse_as_json_loads_reads_the_whole_text(codec: PayloadCodec, body: str):
    raw = PayloadWriter(KEY).sign_body(body)
    envelope = codec.parse(raw)
    assert envelope == _expected(raw) and list(envelope) == list(_expected(raw))


@pytest.mark.parametrize("body", ["{}", '{"job":1,}', '{"job":"x"', "[1]", '{"job":"x"} x}', "{\ufeff}"])
def test_signed_text_that_is_no_envelope_is_refused_with_json_loads_verdict(codec: PayloadCodec, body: str):
    raw = PayloadWriter(KEY).sign_body(body)
    try:
        whole = _expected(raw)
        expected = "payload has no job class" if not isinstance(whole.get("job"), str) else None
    except ValueError as exc:
        expected = f"payload is not valid JSON: {exc}"
    with pytest.raises(InvalidPayloadError) as caught:
        codec.parse(raw)
    assert str(caught.value) == expected


def test_a_forged_payload_is_still_refused_before_it_is_read(codec: PayloadCodec):
    _, raw = codec.create(RecordJob("/tmp/w", "a"), "default", "redis")
    forged = raw.replace('"a"', '"b"')
    with pytest.raises(InvalidPayloadError, match="signature does not match"):
        codec.parse(forged)
