"""The `--prefetch=N` JobSource: reserve up to N jobs in one round trip, start them one by one."""
from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from typing import Callable, Sequence

from app.Queue.contracts import BlockingPop, HeldJob, ReserveAhead, ReservedJob, ReserveMany
from app.Queue.Reservations.OneAtATime import ack, ack_then

log = logging.getLogger("queue.worker")


class BatchReservations:
    """Hold a batch of reserved jobs; each counts an attempt only when it starts (`HeldJob.begin`).

    The ack of a finished job rides along with the next job's start, or goes out before the next
    reservation. A held job whose lease is half gone is renewed as it starts, and skipped if that
    fails (another worker may hold it now); a job of a queue no longer worked (paused since) is
    handed back. A driver that reserves ahead (ReserveAhead, Redis) is asked for more jobs of the
    first queue once half the batch is used, so that round trip overlaps the jobs still held.
    """

    def __init__(self, driver: ReserveMany, worker_id: str, size: int, budget: Callable[[int, int], int],
                 stopping: Callable[[], bool]) -> None:
        self.driver = driver
        self.worker_id = worker_id
        self.size = size
        self._budget = budget  # how many jobs a reservation may take, given (jobs about to run, jobs held)
        self._stopping = stopping
        self._ahead = driver if isinstance(driver, ReserveAhead) else None
        self.waits = isinstance(driver, BlockingPop)
        self._held: deque[tuple[HeldJob, float]] = deque()  # with the monotonic time each lease began
        self._lock = threading.Lock()  # around _held where other threads look at it (keep_leases, HeldForSlots)
        self._renew_at = math.inf  # monotonic: the earliest a held job's lease is a third gone (see keep_leases)
        self._unacked: HeldJob | None = None
        self._ahead_in_flight = False  # a batch reserved ahead whose reply is not read yet

    def next_job(self, queues: Sequence[str], wait: float) -> ReservedJob | None:
        """Start the next held job, reserving a new batch when none is left."""
        while True:
            if not self._held and not self._refill(queues, wait):
                return None
            job, fetched = self._held.popleft()
            if not self._usable(job, fetched, queues):
                continue
            job.begin(self._unacked)
            self._unacked = None
            if len(self._held) <= self.size // 2 and not self._ahead_in_flight and job.queue == queues[0]:
                self._reserve_ahead(queues[0])
            return job

    def _refill(self, queues: Sequence[str], wait: float) -> bool:
        """Take the batch reserved ahead, or reserve a new one (acking first what is owed); False when none came."""
        self._send_owed_ack()
        if self._ahead is not None:
            self._ahead.collect_reserved_ahead()  # a batch reserved ahead arrives here
        if self._held:
            return True
        self._ahead_in_flight = False  # a lost connection may have swallowed its reply
        batch = self.driver.pop_many(queues, self.worker_id, max(1, self._budget(0, 0)), wait if self.waits else 0)
        self._hold(batch, time.monotonic())
        return bool(batch)

    def _hold(self, batch: Sequence[HeldJob], fetched: float) -> None:
        """Hold `batch`, whose leases began at `fetched` (monotonic)."""
        if not batch:
            return
        with self._lock:
            self._held.extend((job, fetched) for job in batch)
            self._renew_at = min(self._renew_at, fetched + min(job.retry_after for job in batch) / 3)

    def leases_due(self) -> bool:
        """Whether a held job's lease is a third gone: time for `keep_leases` (a cheap look, for a waiting loop)."""
        return time.monotonic() >= self._renew_at

    def keep_leases(self) -> None:
        """Renew the lease of every held job a third gone, as the lease keeper does for running jobs, so that none
        lapses while it waits for a slot (a concurrent worker's main thread calls this while slots are busy);
        one whose reservation was lost meanwhile is dropped."""
        with self._lock:
            self._renew_at = math.inf
            now = time.monotonic()
            due = [job for job, fetched in self._held if now - fetched >= job.retry_after / 3]
        lost = {id(job) for job in due if not job.renew()}
        renewed = {id(job) for job in due}
        with self._lock:  # a job a slot thread took meanwhile is no longer held: neither kept nor reported
            skipped = [job for job, _ in self._held if id(job) in lost]
            held = [(job, now if id(job) in renewed else fetched) for job, fetched in self._held if id(job) not in lost]
            self._held = deque(held)
            if held:
                self._renew_at = min(fetched + job.retry_after / 3 for job, fetched in held)
        for job in skipped:
            _lost(job)

    @staticmethod
    def _usable(job: HeldJob, fetched: float, queues: Sequence[str]) -> bool:
        """Whether held `job` (its lease begun at `fetched`) may start now: one of a queue no longer worked
        (paused since) is handed back; one whose lease is half gone is renewed first, and skipped when its
        reservation was lost meanwhile."""
        if job.queue not in queues:
            job.release(0)
            return False
        if time.monotonic() - fetched <= job.retry_after / 2 or job.renew():
            return True
        _lost(job)
        return False

    def _reserve_ahead(self, queue: str) -> None:
        """Ask, without waiting, for as many jobs as the budget allows beside the one starting and those held."""
        limit = self._budget(1, len(self._held))
        if self._ahead is None or limit < 1 or self._stopping():
            return
        sent = time.monotonic()  # leases start no earlier than this

        def arrived(jobs: list[HeldJob]) -> None:
            self._ahead_in_flight = False
            self._hold(jobs, sent)

        self._ahead_in_flight = True
        self._ahead.reserve_ahead(queue, self.worker_id, limit, arrived)

    def finished(self, job: ReservedJob, queues: Sequence[str], meanwhile: Callable[[], None] | None = None) -> None:
        """Owe the ack to the next job's start when one follows (and none is owed yet); else send it now.
        Then `meanwhile` (no reply is waited for here, except for the last job's ack)."""
        if not queues:
            ack_then(job, meanwhile)
            return
        if self._unacked is None:
            self._unacked = job  # type: ignore[assignment]  # every job of this source came from pop_many: a HeldJob
        else:
            job.delete_nowait()  # type: ignore[attr-defined]  # a HeldJob too (no cast(): this runs once per job)
        if meanwhile is not None:
            meanwhile()

    def _send_owed_ack(self) -> None:
        job, self._unacked = self._unacked, None
        if job is not None:
            job.delete_nowait()

    def close(self) -> None:
        """Read a batch reserved ahead, hand back every held job (never started: no attempt used), send the owed ack."""
        if self._ahead is not None:
            self._ahead.collect_reserved_ahead()
        while self._held:
            self._held.popleft()[0].release(0)
        job, self._unacked = self._unacked, None
        if job is not None:
            ack(job)


def _lost(job: HeldJob) -> None:
    log.warning("a prefetched job on %s lost its reservation while waiting; skipped", job.queue)
