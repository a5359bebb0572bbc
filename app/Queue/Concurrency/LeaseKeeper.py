"""A background thread that renews the lease of every job in flight and reports jobs past their deadline.

One thread for all slots: each flight is renewed every third of its retry_after, as the
single-job Heartbeat does, and handed to `on_overdue` once its deadline passes.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from app.Queue.Concurrency.Flight import Flight, FlightState
from app.Queue.Concurrency.context_thread import start_thread

log = logging.getLogger("queue.worker")

MAX_WAIT = 0.5  # seconds between looks at the flights, at most (new flights may be due sooner)


class LeaseKeeper:
    """Renew leases of `flights()`; call `on_overdue(flight)` for a running flight past its deadline."""

    def __init__(self, flights: Callable[[], list[Flight]], on_overdue: Callable[[Flight], None]) -> None:
        self._flights = flights
        self._on_overdue = on_overdue
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = start_thread("queue-lease-keeper", self._run)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            wait = MAX_WAIT
            for flight in self._flights():
                if flight.state not in (FlightState.QUEUED, FlightState.RUNNING):
                    continue
                t = time.monotonic()
                if flight.deadline is not None and t >= flight.deadline:
                    self._overdue(flight)
                    continue
                if t >= flight.renew_at:
                    self._renew(flight)
                due = flight.renew_at if flight.deadline is None else min(flight.renew_at, flight.deadline)
                wait = min(wait, max(0.01, due - time.monotonic()))
            self._stop.wait(wait)

    def _renew(self, flight: Flight) -> None:
        try:
            if not flight.reserved.renew():
                log.warning("lost the reservation of a job on %s; another worker may run it", flight.reserved.queue)
        except Exception:  # retried next interval; the job keeps running
            log.exception("could not renew a job's lease")
        flight.renew_at = time.monotonic() + max(0.05, flight.reserved.retry_after / 3)

    def _overdue(self, flight: Flight) -> None:
        try:
            self._on_overdue(flight)
        except Exception:
            log.exception("could not settle a job past its deadline; its lease will return it to the queue")
