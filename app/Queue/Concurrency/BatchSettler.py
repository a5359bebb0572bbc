"""One thread that settles finished async jobs in batches: one thread hand-off per batch, not per job.

The event loop appends each finished flight and wakes the thread only when the list was empty;
the thread settles all it finds, in order. Settling (statuses, events, the ack posted to the
Acker) is mostly buffered work, so one thread keeps up with the loop without the cost of waking
a pool thread for every job; a settlement that does round trips (unique lock, batch bookkeeping)
delays the ones behind it, never the event loop.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from app.Queue.Concurrency.context_thread import start_thread

log = logging.getLogger("queue.worker")


class BatchSettler:
    """`post(*args)` from any thread; `settle(*args)` runs on the settler thread for each post, in order."""

    def __init__(self, settle: Callable[..., None]) -> None:
        self._settle = settle
        self._cv = threading.Condition(threading.Lock())
        self._posted: list[tuple[Any, ...]] = []
        self._closing = False
        self._thread: threading.Thread | None = None

    def post(self, *args: Any) -> None:
        """Queue one settlement."""
        with self._cv:
            if self._thread is None:
                self._thread = start_thread("queue-settle-batch", self._run)
            self._posted.append(args)
            if len(self._posted) == 1:
                self._cv.notify()

    def close(self, wait: float = 10.0) -> None:
        """Settle everything posted, then stop."""
        with self._cv:
            self._closing = True
            self._cv.notify()
            thread = self._thread
        if thread is not None:
            thread.join(wait)

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._posted and not self._closing:
                    self._cv.wait()
                batch, self._posted = self._posted, []
                if not batch and self._closing:
                    return
            for args in batch:
                try:
                    self._settle(*args)
                except Exception:  # noqa: BLE001 - one job's failure must not stop the others' settling
                    log.exception("could not settle a job; it stays reserved and runs again after its lease")
