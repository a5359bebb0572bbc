"""compact_encoder spells what json.dumps with compact separators spells, byte for byte; dumps_encoder what json.dumps spells."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest

from app.Queue.Support.compact_json import compact_encoder, dumps_encoder

SAMPLES = [{}, [], {"a": 1, "b": [1.5, None, True], "ü": "é\n\"\\"}, [1e300, -0.0, 2**70, "x" * 300],
           {"nested": {"deep": [{"k": "v"}]}}, "plain", 3, None]


@pytest.mark.parametrize("value", SAMPLES)
def test_it_matches_json_dumps(value):
    assert compact_encoder()(value) == json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def test_a_default_spells_values_json_cannot():
    value = {"amount": Decimal("1.10"), "items": [Decimal("2")]}
    assert compact_encoder(default=str)(value) == json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def test_without_a_default_an_unknown_type_is_refused_as_json_dumps_refuses_it():
    with pytest.raises(TypeError, match="Decimal is not JSON serializable"):
        compact_encoder()({"amount": Decimal("1")})


DUMPS_SAMPLES = [*SAMPLES, {"state": "completed", "attempts": 2, "progress": 100.0, "updated_at": 1796167268.5317266,
                            "error": None, "done": "ab" * 32}, {"ü\u2028": "é\n\"\\\x00"}, float("nan"), float("-inf"),
                 {1: "int key", 2.5: "float key", False: "bool key", None: "none key"}, (1, 2), "é"]


@pytest.mark.parametrize("value", DUMPS_SAMPLES)
def test_dumps_encoder_matches_json_dumps(value):
    assert dumps_encoder()(value) == json.dumps(value)


def test_dumps_encoder_refuses_a_cycle_and_an_unknown_type_as_json_dumps_does():
    looped: list = []
    looped.append(looped)
    with pytest.raises(ValueError, match="Circular reference detected"):
        dumps_encoder()({"a": looped})
    with pytest.raises(TypeError, match="Object of type Decimal is not JSON serializable"):
        dumps_encoder()({"amount": Decimal("1")})
