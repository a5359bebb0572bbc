"""The Redis driver spells the times of its per-job commands (BEGIN, ACK, DELETE_AND_POP) with repr itself:
the bytes sent are those the packer makes of the number, with hiredis and with redis-py's own encoder alike.
(Measured since: about the same cost either way, ~0.8k instructions less for DELETE_AND_POP's three times.)"""
from __future__ import annotations

import random
import struct

import hiredis
import pytest
from redis.connection import Encoder

EDGES = [0.0, -0.0, 1.0, 1.5, 0.1, 1e-7, 5e-324, 1e16, 1e17, 1e22, 2.0**53, 1764640000.123456, 1796177134.365326,
         float("inf"), float("-inf"), float("nan"), 7, 0, -3, 2**63]


def _samples() -> list[float | int]:
    rng = random.Random(11)
    values: list[float | int] = list(EDGES)
    for _ in range(20_000):
        values.append(struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0])  # any bit pattern
        values.append(rng.uniform(1.7e9, 1.9e9))  # unix times as now() gives them
        values.append(rng.uniform(1.7e9, 1.9e9) + rng.choice([60.0, 90.0, 86400.0]))  # a lease or marker expiry
    return values


def test_hiredis_packs_a_number_spelt_by_repr_as_it_packs_the_number():
    values = _samples()
    assert [v for v in values if hiredis.pack_command(("A", v)) != hiredis.pack_command(("A", repr(v)))] == []


@pytest.mark.parametrize("value", EDGES)
def test_redis_py_encodes_a_number_spelt_by_repr_as_it_encodes_the_number(value):
    """Without hiredis, redis-py's encoder packs the command: the same bytes there too."""
    encoder = Encoder("utf-8", "strict", False)
    assert encoder.encode(value) == encoder.encode(repr(value))
