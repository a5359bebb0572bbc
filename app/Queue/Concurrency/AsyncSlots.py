"""One event loop, on its own thread, running `async def handle` jobs as tasks.

The loop only awaits job code. Anything that blocks -- settling a job with the store,
middleware (whose `handle(job, next)` is synchronous) -- runs on threads, so one job's
round trips never hold up the others' awaits.

Per job the loop does as little as it can: jobs handed over together start in one wake of the
loop (`submit_many`), their soft timeouts share one timer (TimeoutLine), and no done-callback is
added to each task (the job's coroutine notes its own end; a task cancelled by the keeper gets one).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any, Awaitable, Callable, Iterable

from app.Queue.Concurrency.Flight import Flight
from app.Queue.Concurrency.TimeoutLine import TimeoutLine
from app.Queue.Concurrency.context_thread import start_thread


class AsyncSlots:
    """Start the loop on first use; `submit(flight)` schedules `run(flight)` as a task on it."""

    def __init__(self, run: Callable[[Flight], Awaitable[None]]) -> None:
        self._run = run
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._pending: list[Flight] = []
        self._scheduled = False  # a drain of _pending is queued on the loop
        self._timeouts: TimeoutLine | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The running loop (started on first use)."""
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = start_thread("queue-async-slots", self._serve)
                self._ready.wait(10)
            return self._loop

    @property
    def timeouts(self) -> TimeoutLine:
        """The soft timeouts of the jobs on the loop (use it on the loop's thread only)."""
        if self._timeouts is None:
            self._timeouts = TimeoutLine(self.loop, _time_out)
        return self._timeouts

    def submit(self, flight: Flight) -> None:
        """Run the flight as a task; the task is kept on the flight so the keeper can cancel it."""
        self.submit_many((flight,))

    def submit_many(self, flights: Iterable[Flight]) -> None:
        """Run each flight as a task, in order.

        Flights submitted while a drain is already queued ride along with it: waking the loop
        costs a write to its self-pipe, which would otherwise be paid for every job.
        """
        loop = self.loop
        with self._lock:
            before = len(self._pending)
            self._pending.extend(flights)
            if self._scheduled or len(self._pending) == before:
                return
            self._scheduled = True
        loop.call_soon_threadsafe(self._start_pending)

    def call(self, awaitable: Awaitable[Any]) -> Any:
        """From another thread: await `awaitable` on the loop and return its result (blocking)."""
        future: concurrent.futures.Future[Any] = asyncio.run_coroutine_threadsafe(_wrap(awaitable), self.loop)
        return future.result()

    def cancel(self, flight: Flight) -> None:
        """Cancel the flight's task (the keeper gave up on it), unless its timeout cancelled it already:
        a job that ignored that cancellation is left to end on its own, not cancelled again."""
        loop, task = self._loop, flight.task
        if loop is not None and task is not None and not loop.is_closed():
            loop.call_soon_threadsafe(_cancel_once, task, flight)

    def close(self) -> None:
        """Stop the loop; tasks still stuck in it are dropped with the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        if not thread.is_alive():
            loop.close()

    def _serve(self) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        loop.call_soon(self._ready.set)
        loop.run_forever()

    def _start_pending(self) -> None:
        with self._lock:
            flights, self._pending = self._pending, []
            self._scheduled = False
        loop, run = self._loop, self._run
        assert loop is not None
        for flight in flights:
            flight.task = loop.create_task(run(flight))  # type: ignore[arg-type]  # run() sets flight.finished at its end


def _cancel_once(task: asyncio.Task[Any], flight: Flight) -> None:
    # A task cancelled before its first step never runs its coroutine, which would have noted the end.
    task.add_done_callback(lambda _t: setattr(flight, "finished", True))
    if not task.cancelling():
        task.cancel()


def _time_out(flight: Flight) -> None:
    """TimeoutLine's call for a job past its timeout: cancel its task; the job's coroutine sees `timed_out`."""
    task = flight.task
    if task is not None and not task.done():
        flight.timed_out = True
        task.cancel()


async def _wrap(awaitable: Awaitable[Any]) -> Any:
    return await awaitable
