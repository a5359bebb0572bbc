"""A background thread that renews the current job's lease and ends a job that ignores its timeout."""
from __future__ import annotations

import logging
import os
import threading
import time
from typing import Callable

from app.Queue.contracts import ReservedJob
from app.Queue.StoreOutage import OutageNotice, is_store_outage

log = logging.getLogger("queue.worker")


class Heartbeat:
    """Renew the lease every third of retry_after; past the hard deadline, call `on_hard_timeout` and exit."""

    def __init__(self, on_hard_timeout: Callable[[ReservedJob], None], exit_code: int = 1) -> None:
        self._on_hard_timeout = on_hard_timeout
        self._exit_code = exit_code
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._job: ReservedJob | None = None
        self._hard_deadline: float | None = None
        self._next_renew = 0.0
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._sleeping_until = 0.0  # when the thread's current wait ends (monotonic)
        self.outage: OutageNotice | None = None  # set by the worker: store outages are logged once, there

    def watch(self, job: ReservedJob, hard_deadline: float | None) -> None:
        """Start watching `job` (monotonic hard deadline, or None for no limit)."""
        with self._lock:
            self._job = job
            self._hard_deadline = hard_deadline
            self._next_renew = time.monotonic() + max(0.05, job.retry_after / 3)
            due = self._next_renew if hard_deadline is None else min(self._next_renew, hard_deadline)
            # Waking the thread for every job costs a GIL hand-off; only wake it when it would sleep past `due`.
            must_wake = due < self._sleeping_until
        self._ensure_thread()
        if must_wake:
            self._wake.set()

    def clear(self) -> None:
        """Stop watching (the job finished)."""
        with self._lock:
            self._job = None
            self._hard_deadline = None

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="queue-heartbeat", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stopped:
            t = time.monotonic()
            with self._lock:
                job, deadline, renew_at = self._job, self._hard_deadline, self._next_renew
                if job is None:
                    wait = 1.0
                else:
                    wait = max(0.01, (min(renew_at, deadline) if deadline is not None else renew_at) - t)
                # Set under the same lock that watch() checks, so a new job never waits on a stale plan.
                self._sleeping_until = t + wait
            if job is not None and deadline is not None and t >= deadline:
                self._kill(job)
                return
            if job is not None and t >= renew_at:
                self._renew(job)
                continue
            self._wake.wait(wait)
            self._wake.clear()

    def _renew(self, job: ReservedJob) -> None:
        try:
            if not job.renew():
                with self._lock:
                    still_running = self._job is job  # a renewal held up by an outage may land after the ack
                if still_running:
                    log.warning("lost the reservation of a job on %s; another worker may run it", job.queue)
            elif self.outage is not None:
                self.outage.succeeded()
        except Exception as exc:  # a failed renewal is retried next interval; the job keeps running
            if self.outage is not None and is_store_outage(exc):
                self.outage.failed(exc, give_up=False)
            else:
                log.exception("could not renew the job's lease")
        with self._lock:
            if self._job is job:
                self._next_renew = time.monotonic() + max(0.05, job.retry_after / 3)

    def _kill(self, job: ReservedJob) -> None:
        try:
            self._on_hard_timeout(job)
        except Exception:
            log.exception("could not record the timed-out job; its lease will return it to the queue")
        finally:
            os._exit(self._exit_code)
