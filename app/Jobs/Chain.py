"""Job chains: `chain([...]).catch(...).dispatch()` runs jobs strictly one after another.

Laravel style: the first step is queued with the remaining steps in its envelope (signed with
the payload); when a step succeeds, the worker queues the next one (app/Jobs/ChainRecorder.py).
A step's return value reaches the next step through `get_previous_result()`.
"""
from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any, Iterable

from app.Jobs import Callbacks
from app.Jobs.Batch import BatchableJob, PendingBatch, is_inline
from app.Jobs.Job import Job
from app.Jobs.Steps import decode_step, encode_step
from app.Queue.errors import QueueError, SerializationError

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager


class PendingChain:
    """A chain being configured; `dispatch()` queues its first step and returns the chain id."""

    def __init__(self, jobs: Iterable[Job | PendingBatch]) -> None:
        self.jobs: list[Job | PendingBatch] = list(jobs)
        self._name = ""
        self._catch: list[Callbacks.Callback] = []
        self._queue: str | None = None
        self._connection: str | None = None

    def name(self, name: str) -> PendingChain:
        self._name = str(name)
        return self

    def catch(self, callback: Callbacks.Callback) -> PendingChain:
        """Run `callback` once when a step fails permanently (the chain stops there)."""
        self._catch.append(callback)
        return self

    def on_queue(self, queue: str) -> PendingChain:
        self._queue = queue
        return self

    def on_connection(self, connection: str) -> PendingChain:
        self._connection = connection
        return self

    def dispatch(self) -> str:
        """Queue the first step; returns the chain id (for ChainMonitor)."""
        from app.Queue.QueueManager import manager

        fake = manager().bus_fake
        if fake is not None:  # QueueFake/BusFake: record the chain, store nothing
            return fake.record_chain(self, self.jobs, self._name or None, queue=self._queue, connection=self._connection)
        return self._start(None)

    def _dispatch_as_member(self, batch_id: str, queue: str | None, connection: str | None) -> str:
        """Queue the chain as one member of a batch (it succeeds when its last step does)."""
        self._queue = self._queue or queue
        self._connection = self._connection or connection
        return self._start(batch_id)

    def _start(self, batch_id: str | None) -> str:
        from app.Jobs.ChainRecorder import chain_recorder
        from app.Queue.QueueManager import manager

        m = manager()
        if not self.jobs:
            raise ValueError("a chain needs at least one job")
        steps = [self._step(j) for j in self.jobs]
        inline = is_inline(m, self._connection)
        chain_id = str(uuid.uuid4())
        info: dict[str, Any] = {"id": chain_id, "name": self._name, "index": -1, "queue": self._queue,
                                "connection": self._connection, "catch": self._catch_specs(m, inline),
                                "steps": [encode_step(s, m.codec) for s in steps]}
        if batch_id:
            info["batchId"] = batch_id
        recorder = chain_recorder(m)
        if inline:
            recorder.local[chain_id] = list(self._catch)
        recorder.monitor_start(info)
        recorder.advance(info, None, None)
        return chain_id

    @staticmethod
    def _step(job: Job | PendingBatch) -> Job:
        if isinstance(job, PendingBatch):
            return job.to_chain_step()
        if not isinstance(job, Job):
            raise TypeError(f"a chain holds Job instances or batches, got {type(job).__name__}")
        return job

    def _catch_specs(self, m: QueueManager, inline: bool) -> list[dict[str, Any]]:
        if inline:
            return []
        for cb in self._catch:
            Callbacks.ensure_queueable(cb, "catch", m.codec.allowed)
        return [Callbacks.serialize(cb, m.codec) for cb in self._catch]


class ChainableJob(BatchableJob):
    """A job meant for chains: `_handle` returns a JSON value the next step reads with get_previous_result()."""

    def handle(self) -> Any:
        result = super().handle()
        try:
            json.dumps(result)
        except (TypeError, ValueError):
            raise SerializationError(
                f"{type(self).__name__}._handle returned a {type(result).__name__}, which cannot be passed to the "
                "next step of its chain; return JSON values (dict, list, str, numbers, bool, None)"
            ) from None
        return result

    def get_previous_result(self) -> Any:
        """The value the previous step's `_handle` returned (None for the first step)."""
        return (self._chain or {}).get("previous")

    def prepend_to_chain(self, job: Job) -> None:
        """Run `job` right after this step."""
        self._chain_info()["steps"].insert(0, encode_step(job, _codec()))

    def append_to_chain(self, job: Job) -> None:
        """Run `job` after the chain's last step."""
        self._chain_info()["steps"].append(encode_step(job, _codec()))

    def _chain_info(self) -> dict[str, Any]:
        if self._chain is None:
            raise QueueError(f"{type(self).__name__} is not running in a chain; prepend/append_to_chain need one")
        return self._chain


class ChainedBatch(Job):
    """A chain step that dispatches a batch; the batch continues the chain when it completes."""

    def __init__(self, jobs: list[dict[str, Any]], batch_name: str, allow: int | bool,
                 callbacks: dict[str, list[dict[str, Any]]], batch_queue: str | None, batch_connection: str | None) -> None:
        super().__init__()
        self.jobs, self.batch_name, self.allow = jobs, batch_name, allow
        self.callbacks, self.batch_queue, self.batch_connection = callbacks, batch_queue, batch_connection

    def handle(self) -> str:
        from app.Queue.QueueManager import manager

        m = manager()
        key = f"chain-batch:{self.job_id}"
        existing = m.cache.get(key)
        if existing:  # this step ran before (worker lost after dispatching): do not batch twice
            return str(existing)
        pending = PendingBatch([decode_step(j, m.codec) for j in self.jobs]).name(self.batch_name).allow_failures(self.allow)
        for kind, method in (("progress", pending.progress), ("then", pending.then), ("catch", pending.catch),
                             ("finally", pending.finally_)):
            for spec in self.callbacks.get(kind, []):
                method(Callbacks.load(spec, m.codec))
        pending._queue = self.batch_queue or (self._chain or {}).get("queue")
        pending._connection = self.batch_connection or (self._chain or {}).get("connection")
        pending._continues_chain = dict(self._chain or {})
        batch_id = pending.dispatch()
        m.cache.put(key, batch_id, 7 * 86400)
        return batch_id


def _codec() -> Any:
    from app.Queue.QueueManager import manager

    return manager().codec


def chain(jobs: Iterable[Job | PendingBatch]) -> PendingChain:
    """Start a chain of jobs (and batches) that run in order."""
    return PendingChain(jobs)


__all__ = ["chain", "ChainableJob", "ChainedBatch", "PendingChain"]
