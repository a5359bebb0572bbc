"""Threads that run `def handle` jobs, started as needed up to the worker's concurrency.

A thread cannot be stopped from outside. When the lease keeper gives up on a job that
passed its timeout, the thread running it is *retired*: a new thread takes its place, and
the old one exits whenever the job's code returns, its result ignored.
"""
from __future__ import annotations

import logging
import queue
import threading
from typing import Any, Callable

from app.Queue.Concurrency.Flight import Flight
from app.Queue.Concurrency.context_thread import start_thread

log = logging.getLogger("queue.worker")


class ThreadSlot:
    """One thread of the pool, the flight it runs, and (when it starts held jobs itself) the ack it owes
    to its next start and whether it kept its place among the N for that start."""

    __slots__ = ("thread", "flight", "retired", "owed", "keeps")

    def __init__(self) -> None:
        self.thread: threading.Thread | None = None
        self.flight: Flight | None = None
        self.retired = False
        self.owed: Any = None  # a finished job's ack, sent with the thread's next start (SlotJob)
        self.keeps = False     # its last job's place is kept for the job it takes next


class ThreadSlots:
    """A pool of up to `size` live threads taking flights from one queue; `run(flight)` does the work,
    `on_exit()` runs on each thread as it ends."""

    def __init__(self, size: int, run: Callable[[Flight], None], name: str = "queue-slot",
                 on_exit: Callable[[], None] = lambda: None) -> None:
        self.size = size
        self._run = run
        self._on_exit = on_exit
        self._name = name
        self._tasks: queue.SimpleQueue[Flight | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._live: list[ThreadSlot] = []
        self._retired: list[ThreadSlot] = []
        self._idle = 0
        self._started = 0

    def submit(self, flight: Flight) -> None:
        """Queue `flight`; start a thread when none is idle and fewer than `size` live."""
        with self._lock:
            spawn = self._idle == 0 and len(self._live) < self.size
            if not spawn:
                self._idle -= 1  # an idle thread will take it
        self._tasks.put(flight)
        if spawn:
            self._spawn()

    def retire(self, slot: ThreadSlot) -> None:
        """Give up on the thread of `slot` (its job is stuck) and start a replacement."""
        with self._lock:
            if slot.retired or slot not in self._live:
                return
            slot.retired = True
            self._live.remove(slot)
            self._retired.append(slot)
        log.warning("a worker thread is stuck in a job past its timeout; it was retired and replaced")

    def stuck(self) -> int:
        """How many retired threads are still inside their job."""
        with self._lock:
            self._retired = [s for s in self._retired if s.thread is not None and s.thread.is_alive()]
            return len(self._retired)

    def live(self) -> int:
        with self._lock:
            return len(self._live)

    def close(self, wait: float = 5.0) -> None:
        """Ask the live threads to exit once idle (retired ones are left to finish alone)."""
        with self._lock:
            slots = list(self._live)
        for _ in slots:
            self._tasks.put(None)
        for slot in slots:
            if slot.thread is not None:
                slot.thread.join(wait)

    def _spawn(self) -> None:
        slot = ThreadSlot()
        with self._lock:
            self._live.append(slot)
            self._started += 1
            number = self._started
        slot.thread = start_thread(f"{self._name}-{number}", self._loop, slot)

    def _loop(self, slot: ThreadSlot) -> None:
        try:
            self._take_flights(slot)
        finally:
            try:
                self._on_exit()
            except Exception:  # noqa: BLE001 - a last guard: the thread must end
                log.exception("a worker thread could not close")

    def _take_flights(self, slot: ThreadSlot) -> None:
        while True:
            flight = self._tasks.get()
            if flight is None:
                return
            slot.flight = flight
            flight.slot = slot
            try:
                self._run(flight)
            except BaseException:  # noqa: BLE001 - the runner settles every job; this thread must live on
                log.exception("a worker thread failed outside of a job")
            slot.flight = None
            with self._lock:
                if slot.retired:
                    return
                self._idle += 1
