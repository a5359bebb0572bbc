"""Choose a worker's JobSource once, from what its driver declares it can do."""
from __future__ import annotations

import logging
from typing import Callable

from app.Queue.contracts import AckAndReserve, JobSource, QueueDriver, ReserveMany
from app.Queue.Reservations.AckReservesNext import AckReservesNext
from app.Queue.Reservations.BatchReservations import BatchReservations
from app.Queue.Reservations.OneAtATime import OneAtATime

log = logging.getLogger("queue.worker")


def source_for(driver: QueueDriver, worker_id: str, batch: int, budget: Callable[[int, int], int],
               stopping: Callable[[], bool], batches: bool | None = None) -> JobSource:
    """Batches of about `batch` jobs when `batches` (default: `batch` > 1) and the driver reserves many at once
    (`budget(running, held)` caps each reservation, `stopping()` stops reserving ahead); else the ack reserves
    the next job where the driver can do both in one call; else one job per call."""
    if (batch > 1 if batches is None else batches) and isinstance(driver, ReserveMany):
        return BatchReservations(driver, worker_id, batch, budget, stopping)
    if batches is None and batch > 1:  # asked for --prefetch on a connection that cannot batch (fair queues, sync)
        log.warning("--prefetch=%d is not available on this connection (%s); jobs are reserved one at a time",
                    batch, type(driver).__name__)
    if isinstance(driver, AckAndReserve):
        return AckReservesNext(driver, driver, worker_id)
    return OneAtATime(driver, worker_id)
