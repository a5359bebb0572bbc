"""Slot threads that start held jobs themselves (`--concurrency=N --prefetch=M` on Redis).

Under BatchReservations the ConcurrentWorker's main thread hands every job to a slot thread:
a freed slot waits for the main thread to wake, then for its own thread to wake, two thread
hand-offs under a contended GIL for every job. Where each thread can have a connection of its
own and start a held job on it (HeldForSlots), the slot thread does it itself:

1. Its `def handle` job lands on its own thread: the slot keeps its place among the N
   (`keeps_place`, called by the worker's `_landed` under the worker's lock), and the main thread
   is not woken for it.
2. The thread takes the next held job, in held order, under the source's lock (`_take`), and
   counts it among the jobs processed under the worker's lock.
3. It starts the job on its own connection (`begin_held`): the BEGIN, corked, carries the ack the
   thread owes for its last job (SlotJob notes it as owed), so one write does both.
4. It runs the job inline through `Worker.process`, which comes back to `run_taken`: the kept place
   becomes the job's flight; a `def handle` job runs right there, an async one goes to the event
   loop once its BEGIN is applied (`flush`), since its ack goes out on another connection.
5. When nothing is held, the worker stops, or the slot is retired, the place is given up (waking
   the main thread to fill it) and the owed ack is sent on its own.

The main thread only tops the held jobs up (`top_up`, once they are at half the batch or fewer;
a slot thread asks for it once through `wants_top_up`) and starts jobs, by its usual path, for
slots left idle (at start, after the queues ran dry). The worker's `_cv` guards `_flights`,
`kept` and `jobs_processed`. Each slot thread closes its own connection as it exits, which sends
whatever is still corked.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Sequence

from app.Queue.Concurrency.Flight import Flight
from app.Queue.Concurrency.SlotJob import SlotJob
from app.Queue.Concurrency.ThreadSlots import ThreadSlot
from app.Queue.Reservations.HeldForSlots import HeldForSlots

if TYPE_CHECKING:
    from app.Jobs.Job import Job
    from app.Queue.Concurrency.ConcurrentWorker import ConcurrentWorker
    from app.Queue.RetryPolicy import RetryPolicy

log = logging.getLogger("queue.worker")


class SlotsTakeHeldJobs:
    """The part of a ConcurrentWorker by which its slot threads take and start held jobs themselves."""

    def __init__(self, worker: ConcurrentWorker, source: HeldForSlots, connection: str, dry_pause: float) -> None:
        self.worker = worker
        self.source = source
        self.connection = connection  # the connection worked (slot threads make their own driver of it)
        self.dry_pause = dry_pause    # after a top-up found the queues empty, seconds before the next one
        self.queues: list[str] = []   # the queues slot threads start held jobs of (refreshed every step)
        self.taking = True            # False once the worker stops: slot threads start nothing more
        self.kept = 0                 # places kept by slot threads for the held job they take next
        self.top_up_asked = False     # a slot thread found the held jobs low
        self.dry_until = 0.0          # a top-up found the queues empty: none again before this (monotonic)
        self._local = threading.local()  # per slot thread: its slot and its own driver

    # -- a slot thread's loop ------------------------------------------------------------------
    def run_slot(self, flight: Flight) -> None:
        """Run a flight the main thread handed this slot thread, then the held jobs it takes while it keeps its
        place (see keeps_place)."""
        worker = self.worker
        slot: ThreadSlot = flight.slot
        self._local.slot = slot
        worker._run_in_thread(flight)
        try:
            while slot.keeps:
                taken = self._take(slot)
                if taken is None:
                    break
                worker.process(self.connection, taken)  # type: ignore[arg-type]  # a SlotJob wraps a ReservedJob
                slot.flight = None
                if worker.options.rest > 0:
                    worker.signals.sleep(worker.options.rest)
        finally:
            with worker._cv:
                self._give_up_place(slot)
            self._send_owed(slot)

    def keeps_place(self, flight: Flight) -> bool:
        """Under the worker's lock: whether the slot thread settling its own `def handle` job keeps the place for
        a held job."""
        slot: ThreadSlot | None = flight.slot
        if (slot is None or flight.is_async or getattr(self._local, "slot", None) is not slot or slot.retired
                or not self.taking or self.worker.should_quit or not self.queues or not self.source.holds()):
            return False
        slot.keeps = True
        self.kept += 1
        return True

    def _take(self, slot: ThreadSlot) -> SlotJob | None:
        """Take the next held job and start it on this thread's connection, its BEGIN carrying the ack the
        thread owes; None (and the kept place freed) when there is none or the worker stops taking."""
        worker, source = self.worker, self.source
        job: Any = None
        queues = self.queues
        if queues and self.taking and not worker.should_quit and not worker.signals.held and not slot.retired:
            try:
                job = source.take(queues)
                if job is not None:
                    owed, slot.owed = slot.owed, None
                    self._own_driver().begin_held(job, owed)
            except Exception:
                log.exception("could not start a held job; it runs again after its lease")
                if job is not None:
                    source.started()
                    job = None
        low = source.low()
        with worker._cv:
            if job is None:
                self._give_up_place(slot)
            else:
                worker.jobs_processed += 1  # counted as it is taken, as the main thread counts the jobs it starts
            if low and not self.top_up_asked:
                self.top_up_asked = True
                worker._cv.notify()
        if job is not None:
            source.started()  # after the count: until then it still counts as held (--max-jobs' budget)
        return None if job is None else SlotJob(job, slot, worker._post_ack)

    def run_taken(self, reserved: Any, job: Job, envelope: dict[str, Any], policy: RetryPolicy,
                  started: float) -> None:
        """Mark a job its slot thread took processing: its kept place becomes the flight; a `def handle` job
        runs right here, an async one goes to the event loop once its BEGIN is applied (its ack goes out
        on another connection)."""
        worker = self.worker
        slot: ThreadSlot = reserved.slot  # a SlotJob
        flight = worker._take_off(reserved, reserved, job, envelope, policy, started)
        with worker._cv:
            worker._flights[flight] = None
            if slot.keeps:
                slot.keeps = False
                self.kept -= 1
        if flight.is_async:
            try:
                self._own_driver().flush()
            except Exception:
                log.exception("could not confirm a job's start; its ack may find it not started (it then runs again)")
            worker._async.submit(flight)
            return
        flight.slot = slot
        slot.flight = flight
        worker._run_in_thread(flight)

    def _give_up_place(self, slot: ThreadSlot) -> None:
        """Under the worker's lock: free the place `slot` kept, waking the main thread to fill it."""
        if slot.keeps:
            slot.keeps = False
            self.kept -= 1
            self.worker._cv.notify()

    def _send_owed(self, slot: ThreadSlot) -> None:
        """Send the ack `slot` owes (no next start carries it) on its thread's connection, without a reply."""
        owed, slot.owed = slot.owed, None
        if owed is not None:
            try:
                owed.delete_nowait()
            except Exception:
                log.exception("could not ack a finished job; it runs again after its lease")

    # -- the slot thread's own connection ---------------------------------------------------------
    def _own_driver(self) -> Any:
        """This slot thread's own driver of the connection worked (made on first use, closed as the thread ends)."""
        own = getattr(self._local, "driver", None)
        if own is None:
            base: Any = self.worker.manager.connection(self.connection)  # a ClaimsPerThread driver (see _choose_source)
            own = self._local.driver = base.for_thread()
        return own

    def close_own_driver(self) -> None:
        """As a slot thread ends: close its own driver (closing sends its corked BEGINs and acks)."""
        own = getattr(self._local, "driver", None)
        if own is not None:
            self._local.driver = None
            try:
                own.close()
            except Exception:  # noqa: BLE001 - closing must not raise
                log.warning("could not close a worker thread's connection; some acks may be lost (their jobs run again)")

    # -- the main thread's part -----------------------------------------------------------------
    def wants_top_up(self) -> bool:
        """Under the worker's lock: whether a slot thread asked for a top-up that may be made now."""
        return self.top_up_asked and time.monotonic() >= self.dry_until

    def top_up(self, queues: Sequence[str]) -> None:
        """Reserve more jobs for the slot threads once the held ones are down to half the batch (not again
        for `dry_pause` after the queues came up empty)."""
        with self.worker._cv:
            self.top_up_asked = False
        if not self.source.low() or time.monotonic() < self.dry_until:
            return
        if self.source.top_up(queues) == 0:
            self.dry_until = time.monotonic() + self.dry_pause

    def stop_taking(self) -> None:
        """Under the worker's lock: start no more held jobs (the worker drains)."""
        self.taking = False
