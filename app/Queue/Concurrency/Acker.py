"""One thread that sends the acks of jobs settled away from the thread that claimed them, without waiting.

Async jobs are settled off the claiming thread, and a job given up at its timeout by the lease
keeper; their acks are posted here instead of costing each a round trip on the settling thread.
(The batch settler of a driver that acks without a reply sends its acks itself with `send_acks`,
on a connection of its own: one thread wake less per batch.) The acker sends all it finds posted
in one write on a connection of its own, with no reply (`ack_many_nowait`); drivers without it
get a plain ack each. At a stop every posted ack is sent before the connection closes (closing
sends what is corked). A SIGKILL before that loses only acks: those jobs run again after their
lease, as any unacked job does.
"""
from __future__ import annotations

import logging
import queue
import threading
from typing import Any, Callable

from app.Queue.Concurrency.context_thread import start_thread
from app.Queue.Reservations.OneAtATime import ack

log = logging.getLogger("queue.worker")

MAX_WRITE = 200  # acks sent in one write, at most


class Acker:
    """`post(job)` from any thread; `close()` sends what is left and stops the thread."""

    def __init__(self, own_driver: Callable[[], Any]) -> None:
        self._own_driver = own_driver  # called on the acker's thread: a driver whose held connection is its own
        self._posted: queue.SimpleQueue[list[Any] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def post(self, job: Any) -> None:
        """Queue the ack of `job` (a driver's ReservedJob)."""
        self.post_many([job])

    def post_many(self, jobs: list[Any]) -> None:
        """Queue the acks of `jobs` (one wake of the acker for all of them)."""
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = start_thread("queue-acker", self._run)
        self._posted.put(jobs)

    def close(self, wait: float = 10.0) -> None:
        """Send every ack posted so far, then stop."""
        if self._thread is not None:
            self._posted.put(None)
            self._thread.join(wait)

    def _run(self) -> None:
        driver: Any = None
        try:
            driver = self._own_driver()
            done = False
            while not done:
                posted = self._posted.get()
                jobs: list[Any] = []
                while True:
                    if posted is None:
                        done = True
                    else:
                        jobs.extend(posted)
                    if done or len(jobs) >= MAX_WRITE or self._posted.empty():
                        break
                    posted = self._posted.get_nowait()
                send_acks(jobs, driver)
        finally:
            if driver is not None:
                try:
                    driver.close()  # sends what is corked
                except Exception:  # noqa: BLE001 - closing must not raise
                    log.warning("could not close the acker's connection; some acks may be lost (their jobs run again)")


def send_acks(jobs: list[Any], driver: Any) -> None:
    """Send the acks of `jobs` on `driver` (whose connection the calling thread owns): those of its own
    driver type without a reply, MAX_WRITE to a write, others one by one."""
    many = getattr(driver, "ack_many_nowait", None)
    kind = type(driver)
    batch: list[Any] = []
    others: list[Any] = []
    for job in jobs:
        (batch if many is not None and type(getattr(job, "driver", None)) is kind else others).append(job)
    for start in range(0, len(batch), MAX_WRITE):
        try:
            many(batch[start:start + MAX_WRITE])  # type: ignore[misc]  # batch is empty without it
        except Exception:
            log.exception("could not ack %d finished jobs; they run again after their lease", len(batch[start:start + MAX_WRITE]))
    for job in others:
        try:
            ack(job)
        except Exception:
            log.exception("could not ack a finished job; it runs again after its lease")
