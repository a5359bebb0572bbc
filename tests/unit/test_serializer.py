"""The Serializer's tagged values: the exact JSON each type becomes (workers of every version read it) and back."""
from __future__ import annotations

import json
import math
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from app.Jobs.Job import Job
from app.Queue.errors import InvalidPayloadError, SerializationError
from app.Queue.Serializer import Serializer
from tests.fixtures.core_jobs import Colour, Level, Mood, Opaque, Point
from tests.fixtures.jobs import RecordJob


def make_serializer() -> Serializer:
    """A Serializer whose nested jobs encode as their class path only (the codec's part is tested elsewhere)."""
    return Serializer(("tests.",), Job, lambda job: {"job": type(job).__qualname__},
                      lambda data: RecordJob(data["job"], "nested"))


# (value, its encoded JSON text): pins the wire format of every tagged type
WIRE = [
    (datetime(2026, 3, 4, 5, 6, 7, 890, tzinfo=timezone.utc), '{"__t":"datetime","v":"2026-03-04T05:06:07.000890+00:00"}'),
    (date(2026, 3, 4), '{"__t":"date","v":"2026-03-04"}'),
    (time(5, 6, 7, 8), '{"__t":"time","v":"05:06:07.000008"}'),
    (timedelta(minutes=3, microseconds=5), '{"__t":"timedelta","v":180.000005}'),
    (Decimal("10.005"), '{"__t":"decimal","v":"10.005"}'),
    (uuid.UUID(int=7), '{"__t":"uuid","v":"00000000-0000-0000-0000-000000000007"}'),
    (b"\x00\xff", '{"__t":"bytes","v":"AP8="}'),
    ((1, ("x",)), '{"__t":"tuple","v":[1,{"__t":"tuple","v":["x"]}]}'),
    ({7}, '{"__t":"set","v":[7]}'),
    (frozenset({8}), '{"__t":"frozenset","v":[8]}'),
    (Colour.BLUE, '{"__t":"enum","cls":"tests.fixtures.core_jobs:Colour","v":"blue"}'),
    (Level.HIGH, '{"__t":"enum","cls":"tests.fixtures.core_jobs:Level","v":2}'),
    (Mood.CALM, '{"__t":"enum","cls":"tests.fixtures.core_jobs:Mood","v":"calm"}'),
    (Point(1, 2), '{"__t":"obj","cls":"tests.fixtures.core_jobs:Point","v":[1,2]}'),
    (float("-inf"), '{"__t":"float","v":"-inf"}'),
    ({(1, 2): "k"}, '{"__t":"dict","v":[[{"__t":"tuple","v":[1,2]},"k"]]}'),
    ({"__t": "x"}, '{"__t":"dict","v":[["__t","x"]]}'),
]


@pytest.mark.parametrize("value, text", WIRE, ids=[type(v).__name__ for v, _ in WIRE])
def test_each_tagged_type_encodes_to_its_fixed_json_and_decodes_back_to_an_equal_value_of_its_type(value: Any, text: str):
    serializer = make_serializer()
    encoded = serializer.encode(value, "Job.attr")
    assert json.dumps(encoded, separators=(",", ":")) == text
    decoded = serializer.decode(json.loads(text))
    assert decoded == value and type(decoded) is type(value)


def test_nan_round_trips_as_a_tagged_float():
    serializer = make_serializer()
    encoded = serializer.encode(float("nan"), "Job.attr")
    assert encoded == {"__t": "float", "v": "nan"}
    assert math.isnan(serializer.decode(json.loads(json.dumps(encoded))))


def test_a_subclass_is_encoded_as_its_first_listed_base():
    class Stamp(datetime):
        pass

    serializer = make_serializer()
    assert serializer.encode(Stamp(2026, 1, 2), "Job.at") == {"__t": "datetime", "v": "2026-01-02T00:00:00"}
    assert serializer.encode(bytearray(b"ab"), "Job.raw") == {"__t": "bytes", "v": "YWI="}
    assert serializer.decode({"__t": "bytes", "v": "YWI="}) == b"ab"


def test_a_nested_job_goes_through_the_job_encoder_and_decoder():
    serializer = make_serializer()
    encoded = serializer.encode(RecordJob("/tmp/x", "t"), "Job.inner")
    assert encoded == {"__t": "job", "v": {"job": "RecordJob"}}
    restored = serializer.decode(encoded)
    assert isinstance(restored, RecordJob) and restored.tag == "nested"


@pytest.mark.parametrize("tag", ["pickle", ["dict"], None])
def test_an_unknown_or_malformed_tag_is_refused_as_an_invalid_payload(tag: Any):
    with pytest.raises(InvalidPayloadError, match="unknown value tag"):
        make_serializer()._decode_tagged(tag, {"__t": tag, "v": 1})


def test_an_enum_or_object_class_outside_the_allowed_modules_is_refused():
    serializer = Serializer(("app.",), Job, lambda job: {}, lambda data: None)
    with pytest.raises(InvalidPayloadError, match="outside the allowed job modules"):
        serializer.decode({"__t": "enum", "cls": "tests.fixtures.core_jobs:Colour", "v": "blue"})
    with pytest.raises(InvalidPayloadError, match="outside the allowed job modules"):
        serializer.decode({"__t": "obj", "cls": "tests.fixtures.core_jobs:Point", "v": [1, 2]})


def test_an_object_without_the_payload_pair_is_refused_naming_the_attribute():
    class Half:
        def to_payload(self) -> int:
            return 1

    with pytest.raises(SerializationError, match=r"'Job\.thing'.*Half"):
        make_serializer().encode(Half(), "Job.thing")
    with pytest.raises(SerializationError, match=r"'Job\.other'.*Opaque"):
        make_serializer().encode(Opaque(), "Job.other")


def test_an_enum_class_that_is_not_an_enum_is_refused():
    with pytest.raises(InvalidPayloadError, match="not a subclass of Enum"):
        make_serializer().decode({"__t": "enum", "cls": "tests.fixtures.core_jobs:Point", "v": 1})


