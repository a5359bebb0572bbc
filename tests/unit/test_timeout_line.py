"""TimeoutLine: the soft timeouts of the async jobs on one loop share one timer, in start order per timeout."""
from __future__ import annotations

import asyncio

from app.Queue.Concurrency.TimeoutLine import TimeoutLine


class Job:
    """A stand-in for a Flight: TimeoutLine only keys on it."""

    def __init__(self, name: str) -> None:
        self.name = name


def _run(body):
    return asyncio.run(body())


def test_jobs_past_their_timeout_expire_in_deadline_order_and_ended_ones_never():
    async def body():
        loop = asyncio.get_running_loop()
        expired: list[tuple[str, float]] = []
        began = loop.time()
        line = TimeoutLine(loop, lambda job: expired.append((job.name, loop.time() - began)))
        a, b, c, d = Job("a"), Job("b"), Job("c"), Job("d")
        line.add(a, 0.20)
        line.add(b, 0.05)  # a shorter timeout in its own line: due first
        line.add(c, 0.20)
        line.add(d, 0.10)
        line.discard(c, 0.20)  # ended in time: never expires
        await asyncio.sleep(0.4)
        return expired, len(line)

    expired, left = _run(body)
    assert [name for name, _ in expired] == ["b", "d", "a"]
    assert [at >= timeout for (_, at), timeout in zip(expired, (0.05, 0.10, 0.20))] == [True, True, True]
    assert left == 0


def test_the_timer_follows_the_oldest_job_still_running():
    async def body():
        loop = asyncio.get_running_loop()
        expired: list[str] = []
        line = TimeoutLine(loop, lambda job: expired.append(job.name))
        first, second = Job("first"), Job("second")
        line.add(first, 0.1)
        await asyncio.sleep(0.05)
        line.add(second, 0.1)  # due 0.05 s after `first`
        line.discard(first, 0.1)  # the timer, set for `first`, must still find `second`
        await asyncio.sleep(0.07)
        early = list(expired)
        await asyncio.sleep(0.1)
        return early, expired

    early, expired = _run(body)
    assert early == []
    assert expired == ["second"]


def test_a_job_added_after_the_line_emptied_still_expires():
    async def body():
        loop = asyncio.get_running_loop()
        expired: list[str] = []
        line = TimeoutLine(loop, lambda job: expired.append(job.name))
        line.add(Job("one"), 0.02)
        await asyncio.sleep(0.05)
        line.add(Job("two"), 0.02)
        await asyncio.sleep(0.05)
        return expired

    assert _run(body) == ["one", "two"]
