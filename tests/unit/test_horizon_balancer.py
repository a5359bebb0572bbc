"""The balancing decision, proven without processes: modes, cooldown, shift limits, proportions, bounds."""
from __future__ import annotations

import math
import random

import pytest

from app.Horizon.Balancer import ALL_QUEUES, Limits, QueueLoad, auto_scale, balance, desired_processes, even_split, workloads


def converge(loads, current, limits, steps=20):
    """Apply autoscaling steps (each past the cooldown) until nothing changes; returns the sizes seen."""
    seen = [dict(current)]
    for _ in range(steps):
        nxt = balance("auto", list(loads), loads, current, limits, math.inf)
        if nxt == current:
            break
        current = nxt
        seen.append(dict(current))
    return seen


def test_balance_false_runs_max_processes_on_the_whole_list():
    assert balance("false", ["a", "b"], {}, {}, Limits(1, 5), math.inf) == {ALL_QUEUES: 5}


@pytest.mark.parametrize("processes,queues,expected", [
    (6, ["a", "b"], {"a": 3, "b": 3}),
    (5, ["a", "b"], {"a": 3, "b": 2}),
    (7, ["a", "b", "c"], {"a": 3, "b": 2, "c": 2}),
    (1, ["a", "b"], {"a": 1, "b": 1}),  # every queue keeps at least one process
])
def test_simple_splits_processes_evenly_first_queues_take_the_remainder(processes, queues, expected):
    assert even_split(queues, processes) == expected
    assert balance("simple", queues, {}, {}, Limits(1, processes), math.inf) == expected


def test_auto_starts_every_queue_at_its_minimum():
    assert balance("auto", ["a", "b"], {"a": QueueLoad(500, 1.0)}, {}, Limits(2, 8), math.inf) == {"a": 2, "b": 2}


def test_auto_keeps_the_allocation_within_the_cooldown():
    loads = {"a": QueueLoad(1000, 1.0), "b": QueueLoad(0)}
    current = {"a": 1, "b": 1}
    limits = Limits(1, 6, max_shift=1, cooldown=3)
    assert balance("auto", ["a", "b"], loads, current, limits, 2.9) == current
    assert balance("auto", ["a", "b"], loads, current, limits, 3.0) == {"a": 2, "b": 1}


def test_a_burst_on_one_queue_grows_it_by_max_shift_per_step_up_to_max_minus_the_other_minimums():
    loads = {"a": QueueLoad(1000, 0.5), "b": QueueLoad(0)}
    steps = converge(loads, {"a": 1, "b": 1}, Limits(1, 6, max_shift=2))
    assert [s["a"] for s in steps] == [1, 3, 5]
    assert all(s["b"] == 1 for s in steps)


def test_draining_shrinks_every_pool_to_min_by_max_shift_per_step():
    idle = {"a": QueueLoad(0, 0.5), "b": QueueLoad(0, 0.5)}
    steps = converge(idle, {"a": 5, "b": 3}, Limits(1, 8, max_shift=1))
    assert steps[-1] == {"a": 1, "b": 1}
    for before, after in zip(steps, steps[1:]):
        assert all(0 <= before[q] - after[q] <= 1 for q in before)


def test_two_queues_get_processes_in_proportion_to_their_time_to_clear():
    loads = {"a": QueueLoad(300, 1.0), "b": QueueLoad(100, 1.0)}  # 300 s vs 100 s of work
    final = converge(loads, {"a": 1, "b": 1}, Limits(1, 8, max_shift=1))[-1]
    assert final == {"a": 6, "b": 2}


def test_time_strategy_weighs_run_time_and_size_strategy_counts_jobs():
    loads = {"slow": QueueLoad(10, 3.0), "fast": QueueLoad(30, 1.0)}
    assert workloads(loads, "time") == {"slow": 30.0, "fast": 30.0}
    assert workloads(loads, "size") == {"slow": 10.0, "fast": 30.0}
    by_time = converge(loads, {"slow": 1, "fast": 1}, Limits(1, 8, strategy="time"))[-1]
    by_size = converge(loads, {"slow": 1, "fast": 1}, Limits(1, 8, strategy="size"))[-1]
    assert by_time == {"slow": 4, "fast": 4} and by_size == {"slow": 2, "fast": 6}


def test_a_queue_without_metrics_borrows_the_known_run_times():
    loads = {"new": QueueLoad(10, None), "old": QueueLoad(10, 2.0)}
    assert workloads(loads, "time") == {"new": 20.0, "old": 20.0}
    assert workloads({"new": QueueLoad(4, None)}, "time") == {"new": 4.0}  # nothing known: 1 s a job


def test_processes_freed_by_a_quieter_queue_go_to_the_busier_one_in_the_same_step():
    loads = {"a": QueueLoad(0, 1.0), "b": QueueLoad(100, 1.0)}
    assert auto_scale(loads, {"a": 5, "b": 1}, Limits(1, 6, max_shift=2)) == {"a": 3, "b": 3}


def test_idle_desire_is_the_minimum():
    assert desired_processes({"a": QueueLoad(0), "b": QueueLoad(0)}, Limits(2, 8)) == {"a": 2.0, "b": 2.0}


def test_auto_never_leaves_the_limits_whatever_the_loads():
    rng = random.Random(4)
    for _ in range(2000):
        queues = [f"q{i}" for i in range(rng.randint(1, 4))]
        low = rng.randint(0, 2)
        limits = Limits(low, rng.randint(low * len(queues) or 1, 12), max_shift=rng.randint(1, 3), strategy=rng.choice(["time", "size"]))
        current = {q: rng.randint(low, limits.max_processes) for q in queues}
        while sum(current.values()) > limits.max_processes:  # a valid starting point
            q = max(current, key=current.get)
            current[q] -= 1
        loads = {q: QueueLoad(rng.choice([0, 0, 3, 50, 4000]), rng.choice([None, 0.01, 0.5, 4.0])) for q in queues}
        after = balance("auto", queues, loads, current, limits, math.inf)
        assert sum(after.values()) <= limits.max_processes
        assert all(after[q] >= low for q in queues)
        assert all(abs(after[q] - current[q]) <= limits.max_shift for q in queues)
