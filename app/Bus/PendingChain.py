"""The chain builder: `chain([...]).catch(...).dispatch()` runs jobs strictly one after another.

Laravel style: the first step is queued with the remaining steps in its envelope (signed with
the payload); when a step succeeds, the worker queues the next one (app/Bus/ChainRecorder.py).
A step's return value reaches the next step through `get_previous_result()` (app/Jobs/Chain.py).
"""
from __future__ import annotations

import uuid
from typing import Any, Iterable

from app.Bus import Callbacks
from app.Bus.PendingBatch import KINDS, PendingBatch, is_inline
from app.Bus.Steps import encode_step
from app.Jobs.ChainedBatch import ChainedBatch
from app.Jobs.Job import Job
from app.Queue.QueueManager import QueueManager, manager


class PendingChain:
    """A chain being configured; `dispatch()` queues its first step and returns the chain id."""

    def __init__(self, jobs: Iterable[Job | PendingBatch]) -> None:
        self.jobs: list[Job | PendingBatch] = list(jobs)
        self._name = ""
        self._catch: list[Callbacks.Callback] = []
        self._queue: str | None = None
        self._connection: str | None = None

    def name(self, name: str) -> PendingChain:
        """Name the chain (shown by ChainMonitor)."""
        self._name = str(name)
        return self

    def catch(self, callback: Callbacks.Callback) -> PendingChain:
        """Run `callback` once when a step fails permanently (the chain stops there)."""
        self._catch.append(callback)
        return self

    def on_queue(self, queue: str) -> PendingChain:
        """Send every step to `queue` (a step's own queue wins)."""
        self._queue = queue
        return self

    def on_connection(self, connection: str) -> PendingChain:
        """Send every step through `connection`."""
        self._connection = connection
        return self

    def dispatch(self) -> str:
        """Queue the first step; returns the chain id (for ChainMonitor)."""
        fake = manager().bus_fake
        if fake is not None:  # QueueFake/BusFake: record the chain, store nothing
            return str(fake.record_chain(self, self.jobs, self._name or None, queue=self._queue, connection=self._connection))
        return self._start(None)

    def dispatch_as_member(self, batch_id: str, queue: str | None, connection: str | None) -> str:
        """Queue the chain as one member of a batch (it succeeds when its last step does)."""
        self._queue = self._queue or queue
        self._connection = self._connection or connection
        return self._start(batch_id)

    _dispatch_as_member = dispatch_as_member  # the name used before app/Bus existed

    def _start(self, batch_id: str | None) -> str:
        m = manager()
        if not self.jobs:
            raise ValueError("a chain needs at least one job")
        steps = [_step(j, m) for j in self.jobs]
        inline = is_inline(m, self._connection)
        chain_id = str(uuid.uuid4())
        info: dict[str, Any] = {"id": chain_id, "name": self._name, "index": -1, "queue": self._queue,
                                "connection": self._connection, "catch": self._catch_specs(m, inline),
                                "steps": [encode_step(s, m.codec) for s in steps]}
        if batch_id:
            info["batchId"] = batch_id
        recorder = m.chains
        if inline:
            recorder.local[chain_id] = list(self._catch)
        recorder.monitor_start(info)
        recorder.advance(info, None, None)
        return chain_id

    def _catch_specs(self, m: QueueManager, inline: bool) -> list[dict[str, Any]]:
        if inline:
            return []
        for cb in self._catch:
            Callbacks.ensure_queueable(cb, "catch", m.codec.allowed)
        return [Callbacks.serialize(cb, m.codec) for cb in self._catch]


def _step(job: Job | PendingBatch, m: QueueManager) -> Job:
    """A chain step as a job: a batch becomes a ChainedBatch step that dispatches it when its turn comes."""
    if isinstance(job, PendingBatch):
        return batch_step(job, m)
    if not isinstance(job, Job):
        raise TypeError(f"a chain holds Job instances or batches, got {type(job).__name__}")
    return job


def batch_step(pending: PendingBatch, m: QueueManager) -> ChainedBatch:
    """Wrap a batch as one step of a chain; its callbacks must be loadable by a worker."""
    members: list[dict[str, Any]] = []
    for job in pending.jobs:
        if not isinstance(job, Job):
            raise TypeError("a batch inside a chain holds Job instances only")
        members.append(encode_step(job, m.codec))
    callbacks = {kind: pending.stored_callbacks(kind, m) for kind in KINDS}
    return ChainedBatch(members, pending._name, pending._allow, callbacks, pending._queue, pending._connection)


def chain(jobs: Iterable[Job | PendingBatch]) -> PendingChain:
    """Start a chain of jobs (and batches) that run in order."""
    return PendingChain(jobs)


__all__ = ["batch_step", "chain", "PendingChain"]
