"""The balancing decision as a pure function: queue loads + current allocation + limits -> new allocation.

Modes follow Laravel Horizon:
- `false`: one pool works the whole queue list (in order) with `max_processes` processes.
- `simple`: `max_processes` processes split evenly across the queues (earlier queues get the remainder).
- `auto`: every `cooldown` seconds each queue's pool moves toward its share of `max_processes`,
  in proportion to its work (`time`: pending x average run time, i.e. time to clear; `size`:
  pending jobs), by at most `max_shift` processes, never below `min_processes` per queue nor
  above `max_processes` in total. With no work anywhere every pool shrinks to `min_processes`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

ALL_QUEUES = "*"  # the pool key when balance is false: one pool over the whole list
UNKNOWN_RUNTIME = 1.0  # seconds assumed per job of a queue with no metrics yet, when no other queue has any


@dataclass(frozen=True, slots=True)
class QueueLoad:
    """Work waiting on one queue: jobs ready or running now, and their average run time (seconds, None if unknown)."""

    pending: int
    runtime: float | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    """A supervisor's scaling settings."""

    min_processes: int = 1
    max_processes: int = 1
    max_shift: int = 1
    cooldown: float = 3.0
    strategy: str = "time"  # time | size


def workloads(loads: Mapping[str, QueueLoad], strategy: str) -> dict[str, float]:
    """Each queue's work: seconds to clear (`time`) or pending jobs (`size`).

    A queue whose run time is not known yet borrows the mean of the known ones (or
    UNKNOWN_RUNTIME), so a burst on a fresh queue is not ignored until metrics arrive.
    """
    if strategy == "size":
        return {q: float(max(0, load.pending)) for q, load in loads.items()}
    known = [load.runtime for load in loads.values() if load.runtime]
    fallback = sum(known) / len(known) if known else UNKNOWN_RUNTIME
    return {q: max(0, load.pending) * (load.runtime or fallback) for q, load in loads.items()}


def desired_processes(loads: Mapping[str, QueueLoad], limits: Limits) -> dict[str, float]:
    """The share of max_processes each queue's work asks for (before shift limits); min_processes when idle."""
    work = workloads(loads, limits.strategy)
    total = sum(work.values())
    if total <= 0:
        return {q: float(limits.min_processes) for q in loads}
    return {q: max(float(limits.min_processes), work[q] / total * limits.max_processes) for q in loads}


def even_split(queues: list[str], processes: int) -> dict[str, int]:
    """`simple` balancing: processes split evenly, the first queues taking the remainder (at least one each)."""
    if not queues:
        return {}
    base, extra = divmod(processes, len(queues))
    return {q: max(1, base + (1 if i < extra else 0)) for i, q in enumerate(queues)}


def auto_scale(loads: Mapping[str, QueueLoad], current: Mapping[str, int], limits: Limits) -> dict[str, int]:
    """One autoscaling step: move each pool toward its desired size by at most max_shift.

    Pools asking for fewer processes are handled first (Horizon sorts the same way), so the
    processes they give up make room under max_processes for the busier queues.
    """
    desired = desired_processes(loads, limits)
    result = {q: max(0, int(current.get(q, 0))) for q in loads}
    for queue in sorted(loads, key=lambda q: (desired[q], q)):
        have = result[queue]
        want = math.ceil(desired[queue] - 1e-9)
        total = sum(result.values())
        if want > have:
            room = max(0, limits.max_processes - total)
            result[queue] = min(have + min(room, limits.max_shift), limits.max_processes, want)
        elif want < have:
            can_drop = max(0, total - limits.min_processes * len(loads))
            result[queue] = max(have - min(can_drop, limits.max_shift), limits.min_processes, want)
    return result


def balance(mode: str, queues: list[str], loads: Mapping[str, QueueLoad], current: Mapping[str, int],
            limits: Limits, since_last_scale: float) -> dict[str, int]:
    """Decide how many processes each pool should have now.

    Args:
        mode: "false", "simple" or "auto".
        queues: the supervisor's queues, highest priority first.
        loads: work per queue (used by `auto` only).
        current: processes per pool now (pool key: the queue, or ALL_QUEUES when mode is "false").
        limits: min/max processes, max shift, cooldown and strategy.
        since_last_scale: seconds since the last autoscaling step (inf before the first one); within
            the cooldown the allocation stays as it is.
    """
    if mode == "false":
        return {ALL_QUEUES: limits.max_processes}
    if mode == "simple":
        return even_split(queues, limits.max_processes)
    if not any(q in current for q in queues):  # first start: every queue at its minimum
        return {q: limits.min_processes for q in queues}
    if since_last_scale < limits.cooldown:
        return {q: int(current.get(q, 0)) for q in queues}
    return auto_scale({q: loads.get(q, QueueLoad(0)) for q in queues}, current, limits)
