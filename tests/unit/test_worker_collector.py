"""A worker loop freezes its start-up objects out of the cycle collector and puts the collector back when it ends."""
from __future__ import annotations

import gc

from app.Queue.Support import collector


def test_quiet_freezes_start_up_objects_and_restore_puts_the_collector_back():
    before = gc.get_threshold()
    saved = collector.quiet()
    try:
        assert saved == before
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] == collector.YOUNG_THRESHOLD
        cycle: list[object] = []
        cycle.append(cycle)  # made after the freeze: still collected
        del cycle
        assert gc.collect() >= 1
    finally:
        collector.restore(saved)
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before
