"""One thread that settles finished async jobs in batches: one thread hand-off per batch, not per job.

The event loop notes each finished flight in a list of its own (no lock) and hands the list over
once per pass of the loop; the thread is woken only when it waits for work. The thread settles
all it finds, in order, with one call (`settle_many`), so what follows settling -- the acks, the
freed places -- can go out once per batch too. Settling (statuses, events, the acks) is mostly
buffered work, so one thread keeps up with the loop without the cost of waking a pool thread
for every job; a settlement that does round trips (unique lock, batch bookkeeping) delays the
ones behind it, never the event loop.

When jobs finish fast enough, a few milliseconds more before one is settled cost no throughput,
so after each batch the thread pauses for `linger(size of that batch)` seconds and then takes
what came meanwhile, unasked: the loop does not wake it (a wake is a futex call and a fight for
the GIL), and one look settles many jobs. When `linger` says 0 it waits to be woken, as when idle.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any, Callable, Sequence

from app.Queue.Concurrency.context_thread import start_thread

log = logging.getLogger("queue.worker")


class BatchSettler:
    """`post(*args)` from any thread (or `post_from_loop` on an event loop); `settle_many(list of args)` runs on
    the settler thread for what was posted, in order; `on_exit()` runs there once all is settled at the close."""

    def __init__(self, settle_many: Callable[[list[tuple[Any, ...]]], None],
                 linger: Callable[[int], float] = lambda _size: 0.0,
                 on_exit: Callable[[], None] = lambda: None) -> None:
        self._settle_many = settle_many
        self._linger = linger
        self._on_exit = on_exit
        self._cv = threading.Condition(threading.Lock())
        self._posted: list[tuple[Any, ...]] = []
        self._from_loop: list[tuple[Any, ...]] = []  # touched by the loop's thread only
        self._waiting = False  # the thread waits for work (only then is it notified)
        self._closing = False
        self._thread: threading.Thread | None = None

    def post(self, *args: Any) -> None:
        """Queue one settlement."""
        self.post_many((args,))

    def post_from_loop(self, *args: Any) -> None:
        """On the running event loop: queue one settlement; all queued in one pass of the loop go over together."""
        if not self._from_loop:
            asyncio.get_running_loop().call_soon(self._hand_over)
        self._from_loop.append(args)

    def post_many(self, batch: Sequence[tuple[Any, ...]]) -> None:
        """Queue several settlements, in order."""
        with self._cv:
            if self._thread is None:
                self._thread = start_thread("queue-settle-batch", self._run)
            self._posted.extend(batch)
            if self._waiting:
                self._cv.notify()

    def close(self, wait: float = 10.0) -> None:
        """Settle everything posted, then stop."""
        with self._cv:
            self._closing = True
            self._cv.notify()
            thread = self._thread
        if thread is not None:
            thread.join(wait)

    def _hand_over(self) -> None:
        batch, self._from_loop = self._from_loop, []
        self.post_many(batch)

    def _run(self) -> None:
        try:
            self._settle_until_closed()
        finally:
            try:
                self._on_exit()
            except Exception:  # noqa: BLE001 - a last guard: the thread must end
                log.exception("the batch settler could not close")

    def _settle_until_closed(self) -> None:
        pause = 0.0
        while True:
            if pause > 0:
                time.sleep(pause)  # more jobs finish meanwhile: one look for all of them, and no wake-up
            with self._cv:
                while not self._posted and not self._closing:
                    self._waiting = True
                    self._cv.wait()
                    self._waiting = False
                batch, self._posted = self._posted, []
                if not batch and self._closing:
                    return
            try:
                self._settle_many(batch)
            except Exception:  # noqa: BLE001 - settle_many settles each job on its own; this is a last guard
                log.exception("could not settle %d jobs; they stay reserved and run again after their lease", len(batch))
            pause = self._linger(len(batch))
