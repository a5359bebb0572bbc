"""Weighted fair sharing between the queues of one worker (`--queue=high:3,default:1`, `define_queue(priority_weight=)`).

Without any weight a worker takes its queues in strict order. With weights it uses smooth
weighted round robin (nginx's): the queue with the most credit (plus its weight) is asked
first and the others follow in that order; when a job is served every queue asked gains its
weight and the queue that supplied the job pays back the total weight. With every queue busy, `high:3,
default:1` serves three high jobs per default job, interleaved; an empty queue never holds
the worker idle, because the next queues are still asked in the same reservation.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence


def parse_queue_list(items: Sequence[str]) -> tuple[list[str], dict[str, int]]:
    """Split `name[:weight]` items into queue names and the weights given; ValueError names a bad item."""
    names: list[str] = []
    weights: dict[str, int] = {}
    for item in items:
        name, sep, weight = item.rpartition(":") if ":" in item else (item, "", "")
        name = name.strip()
        if not name:
            raise ValueError(f"--queue item {item!r} has no queue name")
        if sep:
            if not weight.strip().isdigit() or int(weight) < 1:
                raise ValueError(f"--queue weight of {name!r} must be a whole number >= 1, got {weight!r}")
            weights[name] = int(weight)
        names.append(name)
    return names, weights


class WeightedOrder:
    """Order a worker's queues for each reservation by smooth weighted round robin."""

    def __init__(self, weights: Mapping[str, int]) -> None:
        self.weights = dict(weights)
        self.credit: dict[str, int] = {q: 0 for q in weights}
        self.position = {q: i for i, q in enumerate(weights)}  # ties go to the queue listed first

    def order(self, queues: Sequence[str]) -> list[str]:
        """The queues to ask, most credit first; a tie keeps the configured order."""
        position = self.position
        return sorted(queues, key=lambda q: (-(self.credit.get(q, 0) + self.weights.get(q, 1)), position.get(q, len(position))))

    def served(self, queue: str, queues: Sequence[str]) -> None:
        """`queue` supplied a job: every queue asked gains its weight, `queue` pays back their total.

        Credit moves only when a job is served, so an idle spell does not bank credit for later.
        """
        for q in queues:
            self.credit[q] = self.credit.get(q, 0) + self.weights.get(q, 1)
        self.credit[queue] = self.credit.get(queue, 0) - sum(self.weights.get(q, 1) for q in queues)


def weighted_order(queues: Sequence[str], given: Mapping[str, int], definitions: Mapping[str, Any]) -> WeightedOrder | None:
    """Build the order for a worker: weights from `--queue` win over define_queue's; None means strict order."""
    weights = {}
    for q in queues:
        defined = getattr(definitions.get(q), "priority_weight", None)
        weights[q] = given.get(q) or defined or 0
    if not any(weights.values()):
        return None
    return WeightedOrder({q: w or 1 for q, w in weights.items()})
