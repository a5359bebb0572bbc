"""A job claimed by a slot thread, whose ack that thread sends itself with its next claim.

On the claiming thread, `delete()` only notes the ack as owed: the slot's JobSource sends it
with the reservation of its next job (one round trip, AckReservesNext), on the connection the
job was claimed on. From any other thread the ack is posted (`post_ack`) and sent without a
reply on another connection: by the batch settler itself for the async jobs it settles, by the
worker's Acker for a job the lease keeper gave up on.
Releases always go at once: they are rare, and the claiming thread's connection keeps them in order.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

from app.Queue.Concurrency.DelegatedJob import DelegatedJob


class SlotJob(DelegatedJob):
    """Wrap a ReservedJob claimed by `slot` (with `owed` and `retired`) on the current thread; `post_ack` acks elsewhere."""

    __slots__ = ("slot", "owner", "post_ack")

    def __init__(self, inner: Any, slot: Any, post_ack: Callable[[Any], None]) -> None:
        super().__init__(inner)
        self.slot = slot
        self.owner = threading.get_ident()
        self.post_ack = post_ack

    @property
    def replayed(self) -> bool:
        """The claim found this payload completed already (app/Queue/ReplayGuard.py); slot drivers' claims look."""
        return bool(self.inner.replayed)

    def completed(self, until: float) -> None:
        """Have the ack note the payload done until `until` (the replay guard's marker, written by the ack)."""
        self.inner.completed(until)

    def delete(self) -> bool:
        """Ack: owed to the slot's next claim on the claiming thread, posted to the acker from any other."""
        if threading.get_ident() == self.owner and not self.slot.retired:
            self.slot.owed = self.inner
        else:
            self.post_ack(self.inner)
        return True

    def release(self, delay: float = 0, undo_attempt: bool = False) -> bool:
        """Put the job back after `delay` seconds."""
        return bool(self.inner.release(delay, undo_attempt=undo_attempt))
