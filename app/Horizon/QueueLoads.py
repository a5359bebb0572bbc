"""Measure the work on a supervisor's queues for the autoscaler: jobs ready or running, and their average run time."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Sequence

from app.Horizon.Balancer import QueueLoad
from app.Queue.errors import QueueError
from app.Queue.Support.time import now
from app.Jobs.MetricsStore import MetricsStore

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager

log = logging.getLogger("horizon")

RUNTIME_WINDOW = 600.0  # seconds of metrics the average run time is taken over


def average_runtimes(qm: QueueManager, queues: Sequence[str], window: float = RUNTIME_WINDOW) -> dict[str, float | None]:
    """Average run time (seconds) per queue over the last `window` seconds, None where nothing finished."""
    store = MetricsStore(qm.engine())
    since = now() - window
    result: dict[str, float | None] = {}
    for queue in queues:
        agg = store.summary(since, queue=queue)
        count = agg.processed + agg.failed
        result[queue] = agg.total_time / count if count else None
    return result


def measure(qm: QueueManager, connection: str, queues: Sequence[str]) -> dict[str, QueueLoad]:
    """Loads of `queues` on `connection`; a store that cannot be read gives no loads (the pools stay as they are)."""
    try:
        driver = qm.connection(connection)
        runtimes = average_runtimes(qm, queues)
        loads = {}
        for queue in queues:
            sizes = driver.sizes(queue)
            loads[queue] = QueueLoad(sizes.pending + sizes.reserved, runtimes[queue])
        return loads
    except QueueError as exc:
        log.warning("cannot read the load of %s on %s: %s", ",".join(queues), connection, exc)
        return {}
