"""The concurrent worker where each slot thread claims, runs and acks its own jobs (drivers with ClaimsPerThread).

Each slot thread runs the single worker's loop on a connection of its own (SlotSources): the
ack of its finished job reserves its next job in the same round trip, in strict queue order;
Worker.process decodes and guards the job on that thread, and a `def handle` job runs right
there. An `async def handle` job goes to the event loop and the thread claims again at once.
Threads start as needed: one more whenever every claiming thread is inside a job, up to N.

At most N jobs are in flight: a thread takes a *ticket* before it claims (a free place among
the N, within what --max-jobs leaves) and the ticket becomes the job's flight. The main thread
only supervises: it reads the pause and restart flags and the stop conditions, publishes the
queues to claim from, and at a stop lets every thread finish its job and send its ack. Per-job
guarantees are the ConcurrentWorker's: the LeaseKeeper renews leases and gives up jobs past their
timeout (retiring the thread, which a new one replaces), JobSettlement settles each job.
"""
from __future__ import annotations

import functools
import logging
import threading
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Sequence

from app.Queue.Concurrency.Acker import Acker, send_acks
from app.Queue.Concurrency.BatchSettler import BatchSettler
from app.Queue.Concurrency.ConcurrentWorker import ConcurrentWorker
from app.Queue.Concurrency.Flight import Flight
from app.Queue.Concurrency.SlotJob import SlotJob
from app.Queue.Concurrency.context_thread import start_thread
from app.Queue.contracts import ReservedJob, ReserveMany
from app.Queue.Reservations.OneAtATime import ack
from app.Queue.Reservations.SlotSources import slot_source
from app.Queue.StoreOutage import is_store_outage
from app.Queue.WorkerOptions import StopReason, WorkerOptions

if TYPE_CHECKING:
    from app.Jobs.Job import Job
    from app.Queue.QueueManager import QueueManager
    from app.Queue.RetryPolicy import RetryPolicy

log = logging.getLogger("queue.worker")

SUPERVISE_STEP = 0.1  # seconds between the main thread's looks at flags and stop conditions
MAX_CLAIM_WAIT = 1.0  # seconds a claim blocks on an empty queue, at most (stop flags are read between waits)
MAX_BATCH = 100       # jobs one batch claim takes at most (after an async job, as many as there are free places)
SETTLE_LINGER = 0.002  # seconds the batch settler pauses between batches (see _settle_linger)
LINGER_FROM = 4        # jobs in a settled batch from which the settler pauses even while places are short


class ClaimingSlot:
    """One claiming thread: the ack it owes (sent with its next claim) and whether it was retired."""

    __slots__ = ("thread", "owed", "retired", "tickets", "busy", "started_one", "last_async", "batch", "deferred")

    def __init__(self) -> None:
        self.thread: threading.Thread | None = None
        self.owed: ReservedJob | None = None
        self.retired = False
        self.tickets = 0          # places held among the N for the jobs it is claiming
        self.busy = False         # inside a `def handle` job
        self.started_one = False  # the job being processed became a flight (its ticket with it)
        self.last_async = False   # its last job went to the event loop: claim a batch next
        self.batch: deque[Any] = deque()  # jobs of a batch claim not processed yet
        self.deferred: list[Flight] | None = None  # async flights of a batch claim, handed to the loop together


class ClaimingThreads:
    """The claiming threads: started one at a time as needed, up to `size` live; a stuck one is retired."""

    def __init__(self, size: int, loop: Callable[[ClaimingSlot], None]) -> None:
        self.size = size
        self._loop = loop
        self._lock = threading.Lock()
        self._live: list[ClaimingSlot] = []
        self._retired: list[ClaimingSlot] = []
        self._started = 0

    def spawn_if_needed(self) -> None:
        """Start a thread when every live one is inside a job (or none lives) and fewer than `size` live."""
        if len(self._live) >= self.size:  # all started (read without the lock: it is called for every job)
            return
        with self._lock:
            if len(self._live) >= self.size or any(not s.busy for s in self._live):
                return
            slot = ClaimingSlot()
            self._live.append(slot)
            self._started += 1
            number = self._started
        slot.thread = start_thread(f"queue-slot-{number}", self._loop, slot)

    def retire(self, slot: Any) -> None:
        """Give up on the thread of `slot` (its job is stuck); a new thread takes its place when needed."""
        with self._lock:
            if not isinstance(slot, ClaimingSlot) or slot.retired or slot not in self._live:
                return
            slot.retired = True
            self._live.remove(slot)
            self._retired.append(slot)
        log.warning("a worker thread is stuck in a job past its timeout; it was retired and replaced")
        self.spawn_if_needed()

    def ended(self, slot: ClaimingSlot) -> None:
        with self._lock:
            if slot in self._live:
                self._live.remove(slot)

    def live(self) -> list[ClaimingSlot]:
        with self._lock:
            return list(self._live)

    def close(self, wait: float = 5.0) -> None:
        """Join the live threads (they leave their loop once the worker stops claiming)."""
        for slot in self.live():
            if slot.thread is not None and slot.thread is not threading.current_thread():
                slot.thread.join(wait)


class ClaimingWorker(ConcurrentWorker):
    """A ConcurrentWorker whose slot threads claim their own jobs; the main thread only supervises."""

    def __init__(self, manager: QueueManager, options: WorkerOptions | None = None,
                 sleeper: Callable[[float], None] | None = None) -> None:
        super().__init__(manager, options, sleeper)
        self._claimers = ClaimingThreads(self.size, self._claim_loop)
        self._threads = self._claimers  # type: ignore[assignment]  # the keeper retires stuck threads through it
        self._tickets = 0           # places taken by threads claiming (not yet a flight)
        self._claiming = True       # False once the worker stops: no new claims
        self._queues_now: list[str] = []
        self._found_empty = False   # a claim found nothing while nothing was in flight (--stop-when-empty)
        self._fatal: BaseException | None = None
        self._room_wanted = 0  # places a thread waits for (0: none waits)
        self._batch_least = max(1, min(MAX_BATCH, self.size // 16))  # a batch claim waits for this many free places
        self._wake_main = threading.Event()  # set when a thread failed, or the last flight landed at a stop
        self._connection = ""
        self._base: Any = None
        self._slot = threading.local()
        self._acker = Acker(lambda: self._base.for_thread())
        self._batch_settler = BatchSettler(self._settle_batch, self._settle_linger, self._close_ack_driver)
        self._ack_driver: Any = None  # the batch settler's own driver, for drivers that ack without a reply
        self._settling = threading.local()  # on the settler thread, during a batch: the acks and landings it collects

    # -- the main thread ------------------------------------------------------------------------
    def daemon(self, connection: str, queues: Sequence[str]) -> int:
        """Supervise the claiming threads until a stop condition, let them finish, then return the exit status."""
        self._connection = connection
        self._base = self.manager.connection(connection)
        self._start(connection, queues, concurrency=self.size)
        self._queues_now = self._active_queues(connection, queues)
        self._keeper.start()
        self._claimers.spawn_if_needed()
        stop = self._loop_until_stop(lambda: self._supervise(connection, queues), self._finish_claims)
        if self._fatal is not None:
            raise self._fatal
        return self._stop(*stop)

    def _supervise(self, connection: str, queues: Sequence[str]) -> tuple[int, StopReason] | None:
        """Wait a step (a landing job or a signal wakes it), then refresh the queues and check the stop conditions."""
        if not self.should_quit and self._fatal is None:
            self._wake_main.wait(SUPERVISE_STEP)  # not the condition: a landing job need not wake the main thread
            self._wake_main.clear()
        if self._fatal is not None:
            return 1, StopReason.INTERRUPTED
        self._queues_now = self._active_queues(connection, queues)
        stop = self._should_stop()
        if stop is not None:
            return stop
        if self.options.stop_when_empty:
            with self._cv:
                if self._found_empty and not self._flights:  # a job claimed meanwhile still runs before the exit
                    return 0, StopReason.EMPTY
        return None

    def _finish_claims(self) -> None:
        """Stop claiming; wait until every thread has finished its job and sent its ack, and every async job landed."""
        with self._cv:
            self._claiming = False
            self._cv.notify_all()
        self._claimers.close(wait=max(5.0, self.options.sleep + MAX_CLAIM_WAIT))
        self._drain()

    # -- tickets: at most N jobs in flight, within --max-jobs -------------------------------------
    def _take_tickets(self, slot: ClaimingSlot, wanted: int, least: int = 1) -> int:
        """Take up to `wanted` places among the N for jobs about to be claimed (none when fewer than `least`
        are free, unless --max-jobs leaves fewer); how many were taken."""
        with self._cv:
            if not self._admits(slot):
                return 0
            free = self._free()
            if self.options.max_jobs > 0:
                left = self.options.max_jobs - self.jobs_processed - self._tickets
                least, free = min(least, max(left, 1)), min(free, left)
            if free < least or free <= 0:
                return 0
            taken = min(wanted, free)
            self._tickets += taken
            slot.tickets += taken
            return taken

    def _admits(self, slot: ClaimingSlot) -> bool:
        """Whether `slot` may take a place for a new job (under the lock): the worker still claims and is not
        stopping, the slot is not retired, and too many stuck jobs have not sent the worker to its exit."""
        return (self._claiming and not self.should_quit and not slot.retired
                and not (self._abandoned and self.stuck() >= self.max_stuck))

    def _drop_tickets(self, slot: ClaimingSlot, count: int = 1) -> None:
        count = min(count, slot.tickets)
        if count > 0:
            with self._cv:
                slot.tickets -= count
                self._tickets -= count
                if self._room_wanted and self._free() >= self._room_wanted:
                    self._cv.notify_all()

    def _wait_for_room(self, wanted: int) -> None:
        """Wait until `wanted` places are free (or a step passed): a landing job wakes only a thread that can go on."""
        with self._cv:
            if self._claiming and not self.should_quit and self._free() < wanted:
                self._room_wanted = min(self._room_wanted, wanted) if self._room_wanted else wanted
                self._cv.wait(SUPERVISE_STEP)
                self._room_wanted = 0

    def _free(self) -> int:
        return self.size - len(self._flights) - self._tickets

    def _landed(self, flight: Flight) -> None:
        """The job is settled: free its place, or, for a `def handle` job landing on its own thread, keep the
        place for that thread's next claim (one pass through the shared lock per job instead of two).
        A batch settled on the settler thread frees its places together, after its acks went out (_settle_batch)."""
        landed = getattr(self._settling, "landed", None)
        if landed is not None:
            landed.append(flight)
            return
        slot = flight.slot if not flight.is_async and getattr(self._slot, "current", None) is flight.slot else None
        with self._cv:
            self._flights.pop(flight, None)
            if (slot is not None and self._admits(slot)
                    and (self.options.max_jobs <= 0 or self.jobs_processed + self._tickets < self.options.max_jobs)):
                slot.tickets += 1
                self._tickets += 1
            else:
                self._wake_for_room()

    def _wake_for_room(self) -> None:
        """Under the lock, once places were freed: wake a thread waiting for room, or the main thread draining."""
        if (self._room_wanted and self._free() >= self._room_wanted) or not self._claiming:
            self._cv.notify_all()

    def _settle_batch(self, batch: list[tuple[Any, ...]]) -> None:
        """On the settler thread: settle finished async jobs in order, then send all their acks at once
        (_send_acks) and free their places under one pass through the lock."""
        acks: list[Any] = []
        landed: list[Flight] = []
        self._settling.acks, self._settling.landed = acks, landed
        try:
            for flight, result, error in batch:
                try:
                    self._settle(flight, result, error)
                except Exception:  # noqa: BLE001 - one job's failure must not stop the others' settling
                    log.exception("could not settle a job; it stays reserved and runs again after its lease")
        finally:
            self._settling.acks = self._settling.landed = None
            if acks:
                self._send_acks(acks)
            if landed:
                with self._cv:
                    for flight in landed:
                        self._flights.pop(flight, None)
                    self._wake_for_room()

    def _send_acks(self, acks: list[Any]) -> None:
        """On the settler thread: acks a driver sends without a reply go out here, on the settler's own
        connection (no wake of the acker per batch); others are posted to the acker (their round trips
        stay off this thread)."""
        if getattr(self._base, "ack_many_nowait", None) is None:
            self._acker.post_many(acks)
            return
        if self._ack_driver is None:
            self._ack_driver = self._base.for_thread()
        send_acks(acks, self._ack_driver)

    def _close_ack_driver(self) -> None:
        """On the settler thread, after its last batch: close its connection (closing sends what is corked)."""
        driver, self._ack_driver = self._ack_driver, None
        if driver is not None:
            try:
                driver.close()
            except Exception:  # noqa: BLE001 - closing must not raise
                log.warning("could not close the settler's connection; some acks may be lost (their jobs run again)")

    def _settle_linger(self, settled: int) -> float:
        """How long the batch settler may pause after settling `settled` jobs: a little while places are plentiful
        (settling later costs no throughput then, and saves a wake-up per batch) or jobs finish many at a time
        (the process is short of CPU, not of places); none while few finish and places are short (a job that
        waits only on its own I/O would wait for the pause too)."""
        return SETTLE_LINGER if settled >= LINGER_FROM or self._free() >= self.size // 4 else 0.0

    def _post_ack(self, job: ReservedJob) -> None:
        """The ack of a job settled off its claiming thread: collected for the batch being settled, else posted."""
        acks = getattr(self._settling, "acks", None)
        if acks is not None:
            acks.append(job)
        else:
            self._acker.post(job)

    # -- a claiming thread --------------------------------------------------------------------------
    def _claim_loop(self, slot: ClaimingSlot) -> None:
        self._slot.current = slot
        driver = source = None
        try:
            driver, source = slot_source(self._base, self.worker_id)
            many = driver if isinstance(driver, ReserveMany) else None
            while not slot.retired:
                queues = self._queues_now
                batch = many is not None and slot.last_async and slot.owed is None
                least = self._batch_least if batch else 1
                if slot.tickets and not batch and queues and self._claiming and not self.should_quit:
                    got = slot.tickets  # the place of its last job, kept as it landed (see _landed)
                else:
                    self._drop_tickets(slot, slot.tickets)
                    got = self._take_tickets(slot, MAX_BATCH if batch else 1, least) if queues else 0
                owed, slot.owed = slot.owed, None
                if owed is not None:
                    self._send_ack(source, owed, queues if got else ())
                if not got:
                    if not self._claiming or self.should_quit:
                        return
                    self._wait_for_room(least)
                    continue
                if batch:
                    self._run_batch(slot, many, queues, got)
                    continue
                job = self._claim(functools.partial(source.next_job, queues, min(self.options.sleep, MAX_CLAIM_WAIT)),
                                  source.waits)
                if job is None:
                    self._drop_tickets(slot)
                    continue
                self._run_claimed(slot, job, queues)
        except BaseException as exc:  # noqa: BLE001 - a thread must not die silently: the main thread re-raises
            log.exception("a worker thread failed outside of a job")
            self._fatal = self._fatal or exc
            self._wake_main.set()
        finally:
            self._drop_tickets(slot, slot.tickets)
            self._close_slot(slot, driver, source)

    def _run_batch(self, slot: ClaimingSlot, driver: Any, queues: list[str], tickets: int) -> None:
        """After an async job: reserve up to `tickets` jobs of the first queue that has any in one round trip.

        They all start now: the claim itself counts their attempts where the driver can
        (`pop_many_started`); else they are counted in one write without a reply (`begin_many`, else
        HeldJob.begin each). When one turns out to be a `def handle` job, the jobs after it are
        handed back with their attempt undone for the other threads, and this thread runs it
        (see _run_attempt).
        """
        started = getattr(driver, "pop_many_started", None)
        take = (functools.partial(started, queues, self.worker_id, tickets) if started is not None
                else functools.partial(driver.pop_many, queues, self.worker_id, tickets, 0))
        jobs = self._claim(take, False, many=True) or []
        self._drop_tickets(slot, tickets - len(jobs))
        if not jobs:
            slot.last_async = False  # nothing more right now: the next claim waits for one job
            return
        if started is None:
            begin_many = getattr(driver, "begin_many", None)
            if begin_many is not None:
                begin_many(jobs)
            else:
                for job in jobs:
                    job.begin()
        slot.batch.extend(jobs)
        slot.deferred = []  # their async flights start together when the batch is processed: one wake of the loop
        try:
            while slot.batch:
                self._run_claimed(slot, slot.batch.popleft(), queues)
        finally:
            self._submit_deferred(slot)

    def _submit_deferred(self, slot: ClaimingSlot) -> None:
        deferred, slot.deferred = slot.deferred, None
        if deferred:
            self._async.submit_many(deferred)

    def _hand_back_batch(self, slot: ClaimingSlot) -> None:
        """Give the jobs of this thread's batch not processed yet back to the queue, in their places, for other threads."""
        jobs = list(slot.batch)
        slot.batch.clear()
        self._drop_tickets(slot, len(jobs))
        for job in jobs:
            try:
                job.release(0, undo_attempt=True)  # begun with the batch but never run
            except Exception:
                log.exception("could not hand back a reserved job; it runs after its lease")

    def _claim(self, take: Callable[[], Any], waits: bool, many: bool = False) -> Any:
        """Reserve by `take()` (strict queue order); a failed claim during a store outage waits and returns None."""
        with self._cv:
            idle = not self._flights
        try:
            job = take()
        except Exception as exc:
            if not is_store_outage(exc):
                raise
            self.signals.sleep(self.outage.failed(exc))  # raises past QUEUE_RECONNECT_TIMEOUT
            return None
        self.outage.succeeded()
        if many:
            return job
        if job is None:
            if idle:
                self._found_empty = True
            if not waits:
                self._idle_wait(self.options.sleep)
            return None
        self._found_empty = False
        if self.signals.held:  # horizon paused us while the claim waited
            job.release(0, undo_attempt=True)
            return None
        return job

    def _run_claimed(self, slot: ClaimingSlot, job: ReservedJob, queues: list[str]) -> None:
        slot.started_one = False
        self.process(self._connection, SlotJob(job, slot, self._post_ack), next_from=queues)  # type: ignore[arg-type]
        if not slot.started_one:  # process() settled the job without running it: counted, and its ticket is free again
            with self._cv:
                self.jobs_processed += 1
            self._drop_tickets(slot)
        if self.options.rest > 0:
            self.signals.sleep(self.options.rest)

    def _send_ack(self, source: Any, job: ReservedJob, queues: Sequence[str]) -> None:
        try:
            source.finished(job, queues)
        except Exception:
            log.exception("could not ack a finished job; it runs again after its lease")

    def _close_slot(self, slot: ClaimingSlot, driver: Any, source: Any) -> None:
        """Send the ack still owed, hand back a job claimed with it but never started, give the connection back."""
        owed, slot.owed = slot.owed, None
        try:
            if owed is not None:
                ack(owed)
            if source is not None:
                source.close()
        except Exception:
            log.exception("could not ack a finished job; it runs again after its lease")
        finally:
            self._claimers.ended(slot)
            if driver is not None and driver is not self._base:
                try:
                    driver.close()
                except Exception:  # noqa: BLE001 - closing must not raise
                    pass

    # -- starting a job (on the claiming thread) ---------------------------------------------------
    def _run_attempt(self, reserved: ReservedJob, job: Job, envelope: dict[str, Any], policy: RetryPolicy,
                     started: float, next_from: Sequence[str]) -> None:
        """Mark the job processing, then run a `def handle` job here, or hand an async one to the event loop."""
        flight = self._take_off(reserved, reserved, job, envelope, policy, started)
        is_async = flight.is_async
        slot: ClaimingSlot = self._slot.current
        with self._cv:
            self._flights[flight] = None
            self.jobs_processed += 1  # counted here, under the lock taken anyway (--max-jobs reads it with tickets)
            if slot.tickets > 0:  # the ticket becomes this flight
                slot.tickets -= 1
                self._tickets -= 1
        slot.started_one = True
        slot.last_async = is_async
        if is_async:
            if slot.deferred is not None:
                slot.deferred.append(flight)
            else:
                self._async.submit(flight)
            return
        if slot.batch:  # a `def handle` job in a batch: the rest go back for other threads
            self._hand_back_batch(slot)
        self._submit_deferred(slot)  # the batch's async jobs must not wait for this one
        flight.slot = slot
        slot.busy = True
        self._claimers.spawn_if_needed()  # keep a thread claiming while this one runs the job
        try:
            self._run_in_thread(flight)
        finally:
            slot.busy = False

    def _settle_off_loop(self, flight: Flight, result: Any, error: BaseException | None) -> None:
        """Settle a finished async job on the batch settler (one thread hand-off per batch of jobs)."""
        self._batch_settler.post_from_loop(flight, result, error)

    def _shutdown(self) -> None:
        self._batch_settler.close()
        super()._shutdown()
        self._acker.close()  # after every job landed: their acks are all posted
