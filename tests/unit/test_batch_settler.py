"""BatchSettler: settles what was posted in order, in batches, and pauses between batches when asked to."""
from __future__ import annotations

import asyncio
import threading

from app.Queue.Concurrency.BatchSettler import BatchSettler
from tests.support import wait_until


class Recorder:
    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.lock = threading.Lock()

    def __call__(self, batch: list[tuple[int]]) -> None:
        with self.lock:
            self.batches.append([args[0] for args in batch])

    def settled(self) -> list[int]:
        with self.lock:
            return [n for batch in self.batches for n in batch]


def test_everything_posted_is_settled_once_in_order_and_close_waits_for_it():
    seen = Recorder()
    settler = BatchSettler(seen)
    for n in range(50):
        settler.post(n)
    settler.post_many([(n,) for n in range(50, 100)])
    settler.close()
    assert seen.settled() == list(range(100))


def test_jobs_finished_in_one_pass_of_the_loop_reach_the_thread_together():
    seen = Recorder()
    settler = BatchSettler(seen)

    async def finish_all() -> None:
        for n in range(20):
            settler.post_from_loop(n)  # one pass: handed over at its end
        await asyncio.sleep(0)

    asyncio.run(finish_all())
    settler.close()
    assert seen.batches == [list(range(20))]


def test_while_lingering_the_thread_takes_what_came_meanwhile_in_one_batch():
    seen = Recorder()
    settler = BatchSettler(seen, linger=lambda _size: 1.0)
    settler.post(0)
    wait_until(lambda: seen.settled() == [0], timeout=5)
    for n in range(1, 6):  # posted during the pause that follows the first batch
        settler.post(n)
    wait_until(lambda: len(seen.settled()) == 6, timeout=5)
    settler.close()
    assert seen.batches == [[0], [1, 2, 3, 4, 5]]


def test_a_failing_batch_does_not_stop_the_thread():
    calls: list[list[int]] = []

    def settle(batch: list[tuple[int]]) -> None:
        calls.append([args[0] for args in batch])
        if batch[0][0] == 0:
            raise RuntimeError("store down")

    settler = BatchSettler(settle)
    settler.post(0)
    wait_until(lambda: calls == [[0]], timeout=5)
    settler.post(1)
    settler.close()
    assert calls == [[0], [1]]


def test_on_exit_runs_on_the_settler_thread_once_everything_posted_is_settled():
    # The worker's settler closes its own connection there: closing it sends the acks still corked in it.
    seen = Recorder()
    exits: list[tuple[str, list[int]]] = []
    settler = BatchSettler(seen, linger=lambda _size: 0.05,
                           on_exit=lambda: exits.append((threading.current_thread().name, seen.settled())))
    for n in range(30):
        settler.post(n)
    settler.close()
    assert exits == [("queue-settle-batch", list(range(30)))]


def test_on_exit_runs_even_after_a_failing_batch():
    exits: list[str] = []

    def settle(_batch: list[tuple[int]]) -> None:
        raise RuntimeError("store down")

    settler = BatchSettler(settle, on_exit=lambda: exits.append("closed"))
    settler.post(0)
    settler.close()
    assert exits == ["closed"]
