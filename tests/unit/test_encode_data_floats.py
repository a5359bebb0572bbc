"""encode_data's fast path for floats gives what the Serializer gives: a finite float as it is,
NaN and the infinities tagged, a float subclass through the Serializer; the payload round-trips."""
from __future__ import annotations

import math

import pytest

from app.Jobs.Job import Job
from app.Queue.Payload import PayloadCodec


class FloatJob(Job):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def handle(self) -> None:
        pass


class Reading(float):
    """A float subclass: not the fast path's exact type."""


VALUES = [0.0, -0.0, 1.5, -2.25, 1e300, -1e-300, 5e-324, math.pi, float("nan"), float("inf"), float("-inf"), Reading(2.5)]


def _codec() -> PayloadCodec:
    return PayloadCodec(b"k" * 32, ["tests."])


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_a_float_attribute_is_encoded_as_the_serializer_encodes_it(value: float):
    codec = _codec()
    encoded = codec.encode_data(FloatJob(value))["value"]
    expected = codec.serializer.encode(value, "FloatJob.value")
    assert type(encoded) is type(expected)
    if isinstance(expected, float):
        assert math.copysign(1.0, encoded) == math.copysign(1.0, expected)
        assert encoded == expected
    else:
        assert encoded == expected  # the tagged form (NaN, infinities) or the subclass's


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_a_float_attribute_comes_back_from_the_signed_payload(value: float):
    codec = _codec()
    _uuid, payload = codec.create(FloatJob(value), "default", "redis")
    got = codec.restore(codec.parse(payload)).value
    if math.isnan(value):
        assert math.isnan(got)
    else:
        assert got == value and math.copysign(1.0, got) == math.copysign(1.0, value)
