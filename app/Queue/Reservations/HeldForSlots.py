"""The `--prefetch` JobSource of a concurrent worker whose slot threads start held jobs themselves (Redis).

Under BatchReservations the worker's main thread hands every job to a slot: a freed slot
waits for the main thread to wake (it settles acks and starts jobs for all slots, one at a
time) and then for the slot's own thread to wake, two thread hand-offs under a contended GIL
for every job. Here a slot thread that finishes a job takes the next held job itself (`take`,
under a lock, in the order the jobs were reserved) and starts it on its own connection, so
the main thread only keeps the held jobs topped up (`top_up`, once they fall to half the batch)
and starts jobs for slots left idle (at start, after the queues ran dry).

Held jobs count no attempt until they start; one whose lease is half gone is renewed as it is
taken (skipped if that fails); one of a queue no longer worked is handed back; `close` hands
back every job still held. Acks posted to the main thread go out at once (no reply waited for):
it may not start another job for a while, so none waits for a next BEGIN to ride on.
"""
from __future__ import annotations

import time
from typing import Callable, Sequence

from app.Queue.contracts import HeldJob, ReservedJob, ReserveMany
from app.Queue.Reservations.BatchReservations import BatchReservations
from app.Queue.Reservations.OneAtATime import ack_then


class HeldForSlots(BatchReservations):
    """BatchReservations shared by the main thread (`next_job`, `top_up`, `finished`, `close`) and slot threads (`take`)."""

    def __init__(self, driver: ReserveMany, worker_id: str, size: int, budget: Callable[[int, int], int],
                 stopping: Callable[[], bool]) -> None:
        super().__init__(driver, worker_id, size, budget, stopping)
        self._ahead = None  # no reservation is left waiting for its reply: the main thread tops up in one round trip
        self._starting = 0  # jobs slot threads took and have not yet counted (`started`): still held, for the budget

    def next_job(self, queues: Sequence[str], wait: float) -> ReservedJob | None:
        """On the main thread: start the next held job (on its connection), reserving a batch when none is held."""
        while True:
            job = self._pop(queues)
            if job is None:
                if not self._refill(queues, wait):
                    return None
                continue
            job.begin()
            return job

    def take(self, queues: Sequence[str]) -> HeldJob | None:
        """On a slot thread: the next held job of `queues`, not begun (the caller begins it on its own connection).
        It counts as held until the caller has counted it among the jobs processed and called `started`."""
        return self._pop(queues, taking=True)

    def started(self) -> None:
        """A job `take` gave has been counted by the worker (or dropped): it no longer counts as held."""
        with self._lock:
            self._starting -= 1

    def holds(self) -> bool:
        """Whether any job is held."""
        return bool(self._held)

    def low(self) -> bool:
        """Whether the held jobs are down to half the batch (time to top them up)."""
        return len(self._held) <= self.size // 2

    def top_up(self, queues: Sequence[str]) -> int:
        """On the main thread: reserve, in one round trip without waiting, as many jobs as the budget allows
        beside those held; how many came."""
        with self._lock:
            held = len(self._held) + self._starting
        limit = self._budget(0, held)
        if limit < 1 or self._stopping():
            return 0
        batch = self.driver.pop_many(queues, self.worker_id, limit, 0)
        self._hold(batch, time.monotonic())
        return len(batch)

    def _pop(self, queues: Sequence[str], taking: bool = False) -> HeldJob | None:
        """The next held job of `queues` whose lease is still fresh (renewed when half gone); others are handed
        back. `taking`: it counts as held until `started`."""
        while True:
            with self._lock:
                if not self._held:
                    return None
                job, fetched = self._held.popleft()
                self._starting += taking
            kept = False
            try:
                kept = self._usable(job, fetched, queues)
            finally:
                if taking and not kept:
                    self.started()
            if kept:
                return job

    def _refill(self, queues: Sequence[str], wait: float) -> bool:
        """Reserve a new batch (waiting up to `wait` where the store can); False when none came."""
        limit = self._budget(0, self._starting)
        if limit < 1:  # the jobs slot threads are starting use what --max-jobs leaves
            return False
        batch = self.driver.pop_many(queues, self.worker_id, limit, wait if self.waits else 0)
        self._hold(batch, time.monotonic())
        return bool(batch)

    def finished(self, job: ReservedJob, queues: Sequence[str], meanwhile: Callable[[], None] | None = None) -> None:
        """Ack now: without waiting for the reply while more jobs follow, else waiting for it. Then `meanwhile`."""
        if not queues:
            ack_then(job, meanwhile)
            return
        job.delete_nowait()  # type: ignore[attr-defined]  # every job of this source came from pop_many: a HeldJob
        if meanwhile is not None:
            meanwhile()

    def close(self) -> None:
        """Hand back every held job (never started: no attempt used)."""
        with self._lock:
            held = [job for job, _ in self._held]
            self._held.clear()
        for job in held:
            job.release(0)
