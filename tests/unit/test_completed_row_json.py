"""The completed-jobs recorder's JSON (a job's data, a row as the Redis zset member) is json.dumps's, byte for byte."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from app.Horizon.Redaction import data_json
from app.Horizon.RedisCompletedJobStore import member_and_score, row_json

DATA = [
    {"t": 0.0},
    "[encrypted]",
    {"name": "é\u2028\"quoted\"\n", "nested": {"list": [1, 2.5, None, True, {"x": []}]}, "big": 10**30},
    {"nan": float("nan"), "inf": float("inf")},
    [1, "two"],
]


@pytest.mark.parametrize("data", DATA)
def test_data_json_is_compact_json_dumps(data):
    assert data_json(data) == json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)


def test_data_json_spells_a_value_json_cannot_hold_as_its_text():
    when = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert data_json({"at": when}) == json.dumps({"at": str(when)}, separators=(",", ":"), ensure_ascii=False)


ROWS = [
    ("0b7c3f7a-1f6c-4a53-9f0e-8d0e3f3e2a11", "redis", "bench", "NoopJob", "[]", '{"t":0.0}', 1, 0.00123, 1764621234.123456, 1764621235.5),
    ("u\"", "c\\", "qé", "N\u2028", '["a","b"]', '{"s":"\\"x\\""}', 3, 0.0, float("nan"), float("inf")),
]


@pytest.mark.parametrize("row", ROWS)
def test_a_row_is_spelt_as_json_dumps_of_its_values(row):
    assert row_json(row) == json.dumps(list(row), separators=(",", ":"), ensure_ascii=False)
    assert json.loads(row_json(row))[:8] == list(row)[:8]


def test_a_row_holding_something_json_cannot_hold_is_refused():
    with pytest.raises(TypeError):
        row_json(("u", object()))


@pytest.mark.parametrize("row", ROWS + [ROWS[0][:9] + (1764621299,)])
def test_the_zset_member_is_the_row_json_and_the_score_its_completion_time(row):
    member, score = member_and_score(row)
    assert member == row_json(row)
    assert float(score) == row[9] or (score != score and row[9] != row[9])
