"""The heartbeat thread is woken only when a new job needs it sooner than its current plan."""
from __future__ import annotations

import threading
import time

from app.Queue.Heartbeat import Heartbeat


class LeasedJob:
    queue = "default"

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        self.renewed = threading.Event()

    def renew(self) -> bool:
        self.renewed.set()
        return True


def test_a_short_lease_after_a_long_one_is_still_renewed_in_time():
    hb = Heartbeat(lambda job: None)
    try:
        long_job = LeasedJob(retry_after=30)
        hb.watch(long_job, None)
        time.sleep(0.1)  # the thread now sleeps ~10 s, until the long job's renewal
        hb.clear()
        short_job = LeasedJob(retry_after=0.3)
        hb.watch(short_job, None)
        assert short_job.renewed.wait(5.0)  # due after 0.1 s; the long plan would renew only after ~10 s
        assert not long_job.renewed.is_set()
    finally:
        hb.stop()


class CountingEvent(threading.Event):
    def __init__(self) -> None:
        super().__init__()
        self.sets = 0

    def set(self) -> None:
        self.sets += 1
        super().set()


def test_back_to_back_jobs_with_long_leases_do_not_wake_the_thread():
    hb = Heartbeat(lambda job: None)
    hb._wake = CountingEvent()
    try:
        hb.watch(LeasedJob(retry_after=30), None)
        time.sleep(0.1)
        for _ in range(100):
            hb.clear()
            hb.watch(LeasedJob(retry_after=30), None)
        assert hb._wake.sets == 0
    finally:
        hb.stop()
