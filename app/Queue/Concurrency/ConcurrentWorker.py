"""The worker with up to N jobs in flight: the main thread reserves and acks, slots run the jobs.

The main thread keeps the single worker's loop shape: it reserves the next job in strict
queue priority whenever a slot is free, decodes and guards it (Worker.process), then hands
it to a thread (`def handle`) or to the event loop (`async def handle`). Each job is then
settled by the Worker's JobSettlement (attempts, backoff, failed_jobs, events), from
the thread that ran it or, for async jobs, from a small settling pool. Acks and releases
come back to the main thread (OwnedJob), which sends them through the worker's JobSource
(app/Queue/Reservations/, the same sources as the single worker's) before it reserves again.
Where a slot thread can start a held job on a connection of its own (Redis, --prefetch), it takes
the next one itself as its job ends, and the main thread only tops them up: SlotsTakeHeldJobs.

Timeouts: an async job is cancelled at its timeout (the attempt fails with JobTimeoutError);
one that ignores the cancellation for `hard_timeout_grace` seconds is given up. A thread
cannot be interrupted, so a `def handle` job still running at its timeout is given up at
once: the attempt counts as timed out (released with backoff, or failed when it was the
last or `fail_on_timeout` is set), its thread is retired and replaced, and its late
result is ignored. When half the slots are held by such stuck jobs, the worker stops
taking jobs, finishes the others and exits with status 1, so its supervisor restarts it.
"""
from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import inspect
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, Sequence

from app.Jobs.JobState import JobState
from app.Queue.Concurrency.AsyncSlots import AsyncSlots
from app.Queue.Concurrency.Flight import Flight, FlightState
from app.Queue.Concurrency.JobCalls import CallbackRunner, await_handle, call_middleware
from app.Queue.Concurrency.LeaseKeeper import LeaseKeeper
from app.Queue.Concurrency.OwnedJob import OwnedJob
from app.Queue.Concurrency.SlotJob import SlotJob
from app.Queue.Concurrency.SlotsTakeHeldJobs import SlotsTakeHeldJobs
from app.Queue.Concurrency.ThreadSlots import ThreadSlots
from app.Queue.contracts import JobSource, QueueDriver, ReservedJob, ReserveMany, StartsHeldJobs
from app.Queue.errors import JobTimeoutError
from app.Queue.events import JobProcessing
from app.Queue.JobRunner import JobRunner, _is_async, middleware_of
from app.Queue.JobSettlement import JobSettlement
from app.Queue.Reservations import BatchReservations, source_for
from app.Queue.Reservations.HeldForSlots import HeldForSlots
from app.Queue.Reservations.SlotSources import per_slot
from app.Queue.Worker import Worker
from app.Queue.WorkerOptions import StopReason, WorkerOptions

if TYPE_CHECKING:
    from app.Jobs.Job import Job
    from app.Queue.QueueManager import QueueManager
    from app.Queue.RetryPolicy import RetryPolicy

log = logging.getLogger("queue.worker")

POLL_WHILE_BUSY = 0.05  # seconds a blocking pop waits while jobs run (their acks are due soon)
WAIT_STEP = 0.2         # seconds between looks at the stop flags while every slot is busy
SETTLERS = 8            # threads settling async jobs (store round trips off the event loop)
MAX_AHEAD = 8           # jobs kept reserved ahead (N // 4 at most) so a freed slot starts without a round trip


class ConcurrentWorker(Worker):
    """A Worker whose daemon loop keeps up to `options.concurrency` jobs in flight."""

    def __init__(self, manager: QueueManager, options: WorkerOptions | None = None,
                 sleeper: Callable[[float], None] | None = None) -> None:
        super().__init__(manager, options, sleeper)
        size = max(1, self.options.concurrency)
        ahead = min(MAX_AHEAD, size // 4)
        if self.options.prefetch < ahead:  # batch-capable drivers keep a few jobs in hand (see _choose_source)
            self.options = dataclasses.replace(self.options, prefetch=ahead)
        self.size = size
        self.max_stuck = max(1, size // 2)
        self.runner = CallbackRunner()  # type: ignore[assignment]
        self.settlement = JobSettlement(manager, self.runner)
        self._cv = threading.Condition()
        self._flights: dict[Flight, None] = {}
        self._acks: list[Any] = []
        self._calls: list[Callable[[], Any]] = []
        self._abandoned: list[Flight] = []
        self._threads = ThreadSlots(size, self._run_in_thread)
        self._batch: BatchReservations | None = None  # the source, when it holds jobs ahead (their leases are kept)
        self._held: SlotsTakeHeldJobs | None = None  # set when slot threads start held jobs themselves
        self._async = AsyncSlots(self._run_async)
        self._settler = ThreadPoolExecutor(max_workers=min(SETTLERS, size), thread_name_prefix="queue-settle")
        self._middleware: ThreadPoolExecutor | None = None
        self._keeper = LeaseKeeper(self.in_flight, self._on_overdue)
        self._runners = threading.local()

    # -- the loop -----------------------------------------------------------------------------
    def daemon(self, connection: str, queues: Sequence[str]) -> int:
        """Work until a stop condition, finish every job in flight, then return the exit status."""
        self.source = self._choose_source(self.manager.connection(connection), self.options.prefetch)
        self._batch = self.source if isinstance(self.source, BatchReservations) else None
        if isinstance(self.source, HeldForSlots):  # no slot thread has started yet: their loop can still change
            self._held = SlotsTakeHeldJobs(self, self.source, connection, dry_pause=POLL_WHILE_BUSY)
            self._threads = ThreadSlots(self.size, self._held.run_slot, on_exit=self._held.close_own_driver)
        self._start(connection, queues, concurrency=self.size)
        self._keeper.start()
        return self._stop(*self._loop_until_stop(lambda: self._step(connection, queues), self._drain))

    def _loop_until_stop(self, step: Callable[[], tuple[int, StopReason] | None],
                         land: Callable[[], None]) -> tuple[int, StopReason]:
        """Call `step` until it says why to stop, then `land` the jobs in flight and shut the slots down
        (also when `step` raises, after which nothing new is taken)."""
        stop: tuple[int, StopReason] | None = None
        try:
            while stop is None:
                stop = step()
        except BaseException:
            self.should_quit = True
            land()
            self._shutdown()
            raise
        land()
        self._shutdown()
        return stop

    def _choose_source(self, driver: QueueDriver, batch: int) -> JobSource:
        """As the single worker's, except that every driver able to reserve several jobs at once does.

        One call reserves as many jobs as there are free slots, plus a few held ahead (N // 4,
        at most MAX_AHEAD, or --prefetch if larger) so that a slot that frees starts its next
        job without waiting for a round trip; more are asked for, without waiting, while the
        held ones run low. Held jobs count no attempt until they start. Where a slot thread can
        start a held job on a connection of its own (Redis), it takes the next one itself as its
        job ends (HeldForSlots), and the main thread keeps them topped up.
        """
        def budget(running: int, held: int) -> int:  # the free slots, within what --max-jobs leaves
            with self._cv:
                busy = len(self._flights) + self._kept()
            limit = max(self.size - busy - held - running, batch - held - running)
            if self.options.max_jobs > 0:
                limit = min(limit, self.options.max_jobs - self.jobs_processed - running - held)
            return limit

        if per_slot(driver) and isinstance(driver, ReserveMany) and isinstance(driver, StartsHeldJobs):
            return HeldForSlots(driver, self.worker_id, batch, budget, lambda: self.should_quit)
        return source_for(driver, self.worker_id, batch, budget, lambda: self.should_quit, batches=True)

    def _step(self, connection: str, queues: Sequence[str]) -> tuple[int, StopReason] | None:
        """Take one job when a slot is free; returns why to stop, if it is time to."""
        self._wait_for_slot()
        active = self._active_queues(connection, queues)  # after the wait: flags set meanwhile count now
        if self._held is not None:
            self._held.queues = active
        self._service(active)
        stop = self._should_stop()
        if stop is not None:
            return stop
        if not active:
            self._idle_wait(self.options.sleep)
            return None
        if self._batch is not None and self._batch.leases_due():
            self._batch.keep_leases()
        if self._held is not None:
            self._held.top_up(active)
        if not self._room():  # woken for the held jobs only (leases, top-up): every place is taken
            return None
        job = self._reserve(active)
        if job is not None:
            self.process(connection, job)
            with self._cv:  # slot threads that start held jobs count theirs too
                self.jobs_processed += 1
            if self.options.rest > 0:
                self.signals.sleep(self.options.rest)
            return None
        if self.options.stop_when_empty and not self._busy():
            return 0, StopReason.EMPTY
        if self.source is not None and not self.source.waits:
            self._idle_wait(self.options.sleep)
        return None

    def _should_stop(self) -> tuple[int, StopReason] | None:
        """The single worker's stop checks (max_jobs counting jobs taken by every slot), plus stuck slots."""
        stop = self.stops.check(self.should_quit, True, self.jobs_processed)
        if stop is not None:
            return stop
        stuck = self.stuck()
        if stuck >= self.max_stuck:
            log.error("%d of %d slots are stuck in jobs past their timeout; the worker finishes the others and "
                      "exits so that it is restarted", stuck, self.size)
            return 1, StopReason.TIMED_OUT
        return None

    def _reserve(self, queues: Sequence[str]) -> ReservedJob | None:
        """Take the next job in queue order from the source; a store that can wait does so only briefly while
        jobs run (their acks are due soon)."""
        assert self.source is not None
        job = self.source.next_job(queues, POLL_WHILE_BUSY if self._busy() else self.options.sleep)
        if job is not None and self.signals.held:  # horizon paused us while the source waited
            job.release(0, undo_attempt=True)
            return None
        return job

    def _wait_for_slot(self) -> None:
        """Wait until fewer than `size` jobs are in flight, sending acks and releases meanwhile (or until the
        held jobs need the main thread: a top-up, or leases to renew)."""
        while True:
            with self._cv:
                if (self._room() or self.should_quit or self.stuck() >= self.max_stuck
                        or (self._held is not None and self._held.wants_top_up())
                        or (self._batch is not None and self._batch.leases_due())):
                    return
                if not self._acks and not self._calls:
                    self._cv.wait(WAIT_STEP)
            self._service(())

    def _room(self) -> bool:
        """Whether a place among the N is free (under the lock): no flight in it, and no slot thread keeping it."""
        return len(self._flights) + self._kept() < self.size

    def _kept(self) -> int:
        """Under the lock: the places slot threads keep for the held job they take next (SlotsTakeHeldJobs)."""
        return 0 if self._held is None else self._held.kept

    def _idle_wait(self, seconds: float) -> None:
        """Sleep up to `seconds`, waking early when a job finishes (its ack is due) or a signal arrives."""
        if self.signals.sleeper is not None:
            self.signals.sleep(seconds)
            return
        deadline = time.monotonic() + seconds
        with self._cv:
            while not self._acks and not self._calls and not self.should_quit:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._cv.wait(min(left, WAIT_STEP))

    def _busy(self) -> bool:
        with self._cv:
            return bool(self._flights or self._acks or self._calls or self._kept())

    # -- writes made by the main thread ----------------------------------------------------------
    # Posts come from settling, which always ends in _landed: that one wakes the main thread.
    def _post_ack(self, job: Any) -> None:
        with self._cv:
            self._acks.append(job)

    def _post_call(self, fn: Callable[[], Any]) -> None:
        with self._cv:
            self._calls.append(fn)

    def _service(self, queues: Sequence[str]) -> None:
        """Send the acks and releases the slots posted; while a slot is free, the source may send an ack
        with the next reservation (`queues`)."""
        with self._cv:
            acks, self._acks = self._acks, []
            calls, self._calls = self._calls, []
            room = self._room()
        for fn in calls:
            try:
                fn()
            except Exception:
                log.exception("could not release a job; its lease will return it to the queue")
        if not acks or self.source is None:
            return
        going_on = room and queues and self.stops.check(self.should_quit, True, self.jobs_processed) is None
        for job in acks:
            try:
                self.source.finished(job, queues if going_on else ())
            except Exception:
                log.exception("could not ack a finished job; it runs again after its lease")

    # -- starting a job (main thread) ------------------------------------------------------------
    def _run_attempt(self, reserved: ReservedJob, job: Job, envelope: dict[str, Any], policy: RetryPolicy,
                     started: float, next_from: Sequence[str]) -> None:
        """Mark the job processing and hand it to a thread or to the event loop (a held job a slot thread
        took itself runs on that thread: SlotsTakeHeldJobs.run_taken)."""
        if type(reserved) is SlotJob:
            assert self._held is not None  # only its slot threads make SlotJobs here
            self._held.run_taken(reserved, job, envelope, policy, started)
            return
        flight = self._take_off(reserved, OwnedJob(reserved, self._post_ack, self._post_call), job, envelope, policy,
                                started)
        with self._cv:
            self._flights[flight] = None
        (self._async if flight.is_async else self._threads).submit(flight)

    def _take_off(self, reserved: ReservedJob, settled_as: ReservedJob, job: Job, envelope: dict[str, Any],
                  policy: RetryPolicy, started: float) -> Flight:
        """Mark `reserved` processing (status, JobProcessing) and make its Flight, settled through `settled_as`."""
        self.manager.statuses.mark(job.job_id or "", JobState.PROCESSING, reserved.attempts)
        self.manager.events.dispatch(JobProcessing(job, envelope, reserved.attempts))
        is_async = _is_async(type(job))
        deadline = None
        if policy.timeout > 0:  # threads cannot take a soft timeout: they are given up at the timeout itself
            deadline = time.monotonic() + policy.timeout + (self.options.hard_timeout_grace if is_async else 0.0)
        return Flight(settled_as, job, envelope, policy, started, deadline, is_async)

    def in_flight(self) -> list[Flight]:
        """The jobs running or waiting for a slot thread (a snapshot)."""
        with self._cv:
            return list(self._flights)

    # -- running a job (slot threads, event loop) --------------------------------------------------
    def _run_in_thread(self, flight: Flight) -> None:
        if not flight.start():
            return
        runner = getattr(self._runners, "runner", None)
        if runner is None:
            runner = self._runners.runner = JobRunner()
        try:
            result = runner.run(flight.job, None)
        except BaseException as exc:  # noqa: BLE001 - settled below like the single worker does
            flight.finished = True
            self._settle(flight, None, exc)
        else:
            flight.finished = True
            self._settle(flight, result, None)

    async def _run_async(self, flight: Flight) -> None:
        """The task of one async job: its handle awaited here, not in a coroutine of its own (one frame less
        for every step of the job); past its timeout the loop's TimeoutLine cancels it (see _cancelled)."""
        try:
            if not flight.start():
                return
            result: Any = None
            error: BaseException | None = None
            try:
                if middleware_of(flight.job):
                    loop = asyncio.get_running_loop()
                    call = functools.partial(contextvars.copy_context().run, self._pipeline_in_thread, flight)
                    result = await loop.run_in_executor(self._middleware_pool(), call)
                else:
                    result = flight.job.handle()
                    if inspect.isawaitable(result):
                        timeout = flight.policy.timeout
                        if timeout and timeout > 0:
                            timeouts = self._async.timeouts
                            timeouts.add(flight, timeout)
                            try:
                                result = await result
                            finally:
                                timeouts.discard(flight, timeout)
                        else:
                            result = await result
            except asyncio.CancelledError:
                if flight.state is FlightState.ABANDONED:
                    return  # the keeper settled it already
                error = self._cancelled(flight)
            except BaseException as exc:  # noqa: BLE001 - settled below
                error = exc
            if flight.state is FlightState.ABANDONED:
                return  # given up at its deadline: the late outcome is ignored
            self._settle_off_loop(flight, result, error)
        finally:
            flight.finished = True

    @staticmethod
    def _cancelled(flight: Flight) -> BaseException:
        """The error a cancelled async job settles with: JobTimeoutError when its timeout cancelled it (and
        nothing else did too, as asyncio.timeout decides), else a plain cancellation."""
        name = type(flight.job).__name__
        task = asyncio.current_task()
        if flight.timed_out and task is not None and task.uncancel() == 0:
            return JobTimeoutError(f"{name} timed out after {flight.policy.timeout:g} s")
        return RuntimeError(f"{name} was cancelled")

    def _settle_off_loop(self, flight: Flight, result: Any, error: BaseException | None) -> None:
        """Settle an async job on a settling thread (store round trips stay off the event loop)."""
        self._settler.submit(contextvars.copy_context().run, self._settle, flight, result, error)

    def _pipeline_in_thread(self, flight: Flight) -> Any:
        """Run an async job's (synchronous) middleware on a thread, awaiting `handle` on the loop."""
        timeout = flight.policy.timeout

        def core(job: Job) -> Any:
            return self._async.call(await_handle(job, timeout))

        pipeline: Callable[[Job], Any] = functools.reduce(
            lambda nxt, mw: functools.partial(call_middleware, mw, nxt), reversed(middleware_of(flight.job)), core)
        return pipeline(flight.job)

    def _middleware_pool(self) -> ThreadPoolExecutor:
        if self._middleware is None:
            self._middleware = ThreadPoolExecutor(max_workers=self.size, thread_name_prefix="queue-middleware")
        return self._middleware

    # -- settling (any thread) --------------------------------------------------------------------
    def _settle(self, flight: Flight, result: Any, error: BaseException | None) -> None:
        """Ack, release or fail the job by the Worker's rules, unless the keeper already gave up on it."""
        if not flight.settle(FlightState.DONE):
            return
        reserved, job, envelope = flight.reserved, flight.job, flight.envelope
        try:
            if error is None:
                if self.settlement.completed(reserved, job, envelope, flight.started, result):
                    reserved.delete()  # posted to the main thread (OwnedJob)
            elif isinstance(error, Exception):
                if self.settlement.raised(reserved, job, envelope, flight.policy, error, flight.started):
                    reserved.delete()
            else:  # SystemExit from job code: hand the job back and stop, as the single worker does
                reserved.release(0)
                self.should_quit = True
                log.error("%s raised %s; the worker stops after the jobs in flight", type(job).__name__,
                          type(error).__name__)
        except Exception:
            log.exception("could not settle %s; it stays reserved and runs again after its lease", type(job).__name__)
        finally:
            self._landed(flight)

    def _on_overdue(self, flight: Flight) -> None:
        """The lease keeper's call for a job past its deadline: count the attempt as timed out, free its slot."""
        if not flight.settle(FlightState.ABANDONED):
            return
        name, limit = type(flight.job).__name__, flight.policy.timeout
        if flight.is_async:
            self._async.cancel(flight)
            error = JobTimeoutError(f"{name} timed out after {limit:g} s and ignored its cancellation")
        else:
            if flight.slot is not None:
                self._threads.retire(flight.slot)
            error = JobTimeoutError(f"{name} timed out after {limit:g} s; a thread cannot be stopped, so the "
                                    "attempt was given up and its thread retired")
        log.error("%s", error)
        with self._cv:
            self._abandoned.append(flight)
        self._settler.submit(contextvars.copy_context().run, self._settle_abandoned, flight, error)

    def _settle_abandoned(self, flight: Flight, error: JobTimeoutError) -> None:
        try:
            if self.settlement.raised(flight.reserved, flight.job, flight.envelope, flight.policy, error, flight.started):
                flight.reserved.delete()
        except Exception:
            log.exception("could not settle a timed-out job; its lease will return it to the queue")
        finally:
            self._landed(flight)

    def _landed(self, flight: Flight) -> None:
        """The job is settled: free its place (waking the main thread), or keep it for the held job its own slot
        thread takes next, where slot threads start held jobs themselves (the main thread then sleeps on)."""
        with self._cv:
            self._flights.pop(flight, None)
            if self._held is not None and self._held.keeps_place(flight):
                if self._acks or self._calls:
                    self._cv.notify()
                return
            self._cv.notify()  # only the main thread waits on it

    def stuck(self) -> int:
        """Slots whose job was given up but whose code has not returned."""
        with self._cv:
            self._abandoned = [f for f in self._abandoned if not f.finished]
            return len(self._abandoned)

    # -- stopping ---------------------------------------------------------------------------------
    def _drain(self) -> None:
        """Take nothing new; wait until every job in flight is settled and its ack sent."""
        if self._held is not None:
            with self._cv:
                self._held.stop_taking()
        while True:
            with self._cv:
                if not self._flights and not self._acks and not self._calls and not self._kept():
                    return
                if not self._acks and not self._calls:
                    self._cv.wait(WAIT_STEP)
            self._service(())

    def _shutdown(self) -> None:
        self._keeper.stop()
        self._threads.close()
        self._settler.shutdown(wait=True)
        if self._middleware is not None:
            self._middleware.shutdown(wait=False)
        self._async.close()
