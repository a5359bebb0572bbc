"""Sizes of very big SQL queues from a summary a few seconds old, counted again in the background.

Exact sizes on SQL are index range counts: their cost grows with the queue (hundreds of ms at
a million jobs on MariaDB or PostgreSQL), and the dashboard, its API and /metrics read them
every few seconds. A queue last counted at SUMMARY_FROM_JOBS jobs or more is answered from
its last count, and when that is older than STALE_SECONDS one background thread counts it
again (the page refreshes every 3 s, so it shows counts at most a few seconds old). Smaller
queues are counted on every read, so they are always exact. A summary belongs to one engine:
a new engine (another database, a reset manager) starts empty.
"""
from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any, Callable

from app.Queue.contracts import QueueSizes

SUMMARY_FROM_JOBS = 100_000
STALE_SECONDS = 5.0


@dataclass
class _Count:
    sizes: QueueSizes
    counted_at: float  # time.monotonic()
    refreshing: bool = False


class SizesSummary:
    """The last counts of big queues, keyed by (connection, queue)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], _Count] = {}

    def sizes(self, key: tuple[str, str], count: Callable[[], QueueSizes]) -> QueueSizes:
        """The queue's sizes: counted now, or for a big queue its last count (recounted in the background when stale)."""
        with self._lock:
            last = self._counts.get(key)
            if last is not None:
                if not last.refreshing and time.monotonic() - last.counted_at >= STALE_SECONDS:
                    last.refreshing = True
                    threading.Thread(target=self._recount, args=(key, count), name="dashboard-sizes", daemon=True).start()
                return last.sizes
        sizes = count()
        self._remember(key, sizes)
        return sizes

    def _recount(self, key: tuple[str, str], count: Callable[[], QueueSizes]) -> None:
        try:
            sizes = count()
        except Exception:  # the store is down: keep the last counts; a later read tries again
            with self._lock:
                if key in self._counts:
                    self._counts[key].refreshing = False
            return
        self._remember(key, sizes)

    def _remember(self, key: tuple[str, str], sizes: QueueSizes) -> None:
        with self._lock:
            if sizes.pending + sizes.delayed + sizes.reserved >= SUMMARY_FROM_JOBS:
                self._counts[key] = _Count(sizes, time.monotonic())
            else:  # small again: count it on every read
                self._counts.pop(key, None)


_summaries: weakref.WeakKeyDictionary[Any, SizesSummary] = weakref.WeakKeyDictionary()
_summaries_lock = threading.Lock()


def summary_for(engine: Any) -> SizesSummary:
    """The summary of one engine's queues (shared by every request of this process)."""
    with _summaries_lock:
        found = _summaries.get(engine)
        if found is None:
            found = _summaries[engine] = SizesSummary()
        return found
