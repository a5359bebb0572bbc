"""A metrics flush groups its samples into the same counts, totals, maxima and histograms as adding them one by one."""
from __future__ import annotations

import random

from app.Jobs.MetricsStore import Aggregate, Sample, aggregate, minute_of


def one_by_one(samples: list[Sample]) -> dict[tuple[str, str, str, int], Aggregate]:
    groups: dict[tuple[str, str, str, int], Aggregate] = {}
    for s in samples:
        groups.setdefault((s.job[:191], s.queue[:191], s.tenant[:191], minute_of(s.at)), Aggregate()).add(s)
    return groups


def test_grouped_aggregates_equal_adding_each_sample():
    rng = random.Random(7)
    samples = [Sample(rng.choice(["A", "B" * 300]), rng.choice(["q", "r"]),
                      rng.choice([0.0, 1e-5, rng.random(), rng.random() * 1000]), rng.random() < 0.8,
                      1000 + rng.random() * 300, rng.choice(["", "t"])) for _ in range(3000)]
    grouped, expected = aggregate(samples), one_by_one(samples)
    assert grouped.keys() == expected.keys()
    for key, want in expected.items():
        got = grouped[key]
        assert (got.processed, got.failed, got.total_time, got.max_time, got.histogram) == (
            want.processed, want.failed, want.total_time, want.max_time, want.histogram)


def test_a_group_of_failures_only_has_no_processed_and_its_longest_run():
    (agg,) = aggregate([Sample("A", "q", 0.5, False, 60.0), Sample("A", "q", 2.0, False, 61.0)]).values()
    assert (agg.processed, agg.failed, agg.total_time, agg.max_time) == (0, 2, 2.5, 2.0)
