"""A reserved job whose queue writes (ack, release) are made by the worker's main thread.

The main thread reserved the job on its own connection (a held database connection, a
Redis lane whose writes may still sit corked in the socket); writing the ack or release
on that same connection keeps them in order after the reservation, and leaves SQLite's
write lock to one thread per process instead of one per slot. Slots post the write and go
on: the main thread sends posted writes (acks through the worker's JobSource) before it
reserves another job, so finished but unacked jobs never outnumber the slots. Lease renewals
go straight to the store.
"""
from __future__ import annotations

from typing import Any, Callable

from app.Queue.Concurrency.DelegatedJob import DelegatedJob


class OwnedJob(DelegatedJob):
    """Wrap a ReservedJob; `post_ack(job)` and `post_call(fn)` queue writes for the main thread."""

    __slots__ = ("_post_ack", "_post_call")

    def __init__(self, inner: Any, post_ack: Callable[[Any], None], post_call: Callable[[Callable[[], Any]], None]) -> None:
        super().__init__(inner)
        self._post_ack = post_ack
        self._post_call = post_call

    def delete(self) -> bool:
        """Ack the job (sent by the main thread before its next reservation)."""
        self._post_ack(self.inner)
        return True

    def release(self, delay: float = 0, undo_attempt: bool = False) -> bool:
        """Put the job back after `delay` seconds (sent by the main thread)."""
        inner = self.inner
        self._post_call(lambda: inner.release(delay, undo_attempt=undo_attempt))
        return True

