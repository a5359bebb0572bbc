"""Job batches: `batch([...]).then(...).catch(...).finally_(...).dispatch()` and the BatchableJob base.

The batch row (job_batches) is written before any job is pushed, so a fast worker always
finds it. Counting and callbacks happen on the worker, in app/Jobs/BatchRecorder.py.
"""
from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any, Iterable

from app.Jobs import Callbacks
from app.Jobs.Job import Job
from app.Queue.BatchSignature import sign_options

if TYPE_CHECKING:
    from app.Jobs.Chain import ChainedBatch, PendingChain
    from app.Queue.BatchRepository import BatchRecord
    from app.Queue.QueueManager import QueueManager

log = logging.getLogger("queue.batch")

KINDS = ("progress", "then", "catch", "finally")  # stored with the batch, run on the worker


class PendingBatch:
    """A batch being configured; `dispatch()` stores it and queues its jobs."""

    def __init__(self, jobs: Iterable[Job | PendingChain]) -> None:
        self.jobs: list[Job | PendingChain] = list(jobs)
        self._name = ""
        self._allow: int | bool = 0
        self._callbacks: dict[str, list[Callbacks.Callback]] = {k: [] for k in KINDS}
        self._queue: str | None = None
        self._connection: str | None = None
        self._continues_chain: dict[str, Any] | None = None  # set when the batch is a step of a chain
        self._before: list[Callbacks.Callback] = []

    # -- fluent configuration -----------------------------------------------------------------
    def name(self, name: str) -> PendingBatch:
        """Name the batch (shown by queue:stats)."""
        self._name = str(name)
        return self

    def allow_failures(self, allowed: int | bool = True) -> PendingBatch:
        """Let up to `allowed` jobs fail (True: any number) without cancelling the batch."""
        if not isinstance(allowed, bool) and (not isinstance(allowed, int) or allowed < 0):
            raise ValueError(f"allow_failures takes True or a whole number >= 0, got {allowed!r}")
        self._allow = allowed
        return self

    def before(self, callback: Callbacks.Callback) -> PendingBatch:
        """Run `callback(batch)` in the dispatching process once the batch is stored, before its jobs are queued."""
        self._before.append(callback)
        return self

    def progress(self, callback: Callbacks.Callback) -> PendingBatch:
        """Run `callback(batch)` on the worker each time a job of the batch succeeds (before then/finally)."""
        self._callbacks["progress"].append(callback)
        return self

    def then(self, callback: Callbacks.Callback) -> PendingBatch:
        """Run `callback` once when every job succeeded (or failures stayed within the allowance)."""
        self._callbacks["then"].append(callback)
        return self

    def catch(self, callback: Callbacks.Callback) -> PendingBatch:
        """Run `callback` once, on the first failure beyond the allowance (which cancels the batch)."""
        self._callbacks["catch"].append(callback)
        return self

    def finally_(self, callback: Callbacks.Callback) -> PendingBatch:
        """Run `callback` once when no job of the batch is left to run."""
        self._callbacks["finally"].append(callback)
        return self

    def on_queue(self, queue: str) -> PendingBatch:
        """Send every job of the batch (and Job callbacks) to `queue`."""
        self._queue = queue
        return self

    def on_connection(self, connection: str) -> PendingBatch:
        """Send every job of the batch through `connection`."""
        self._connection = connection
        return self

    # -- dispatch -----------------------------------------------------------------------------
    def dispatch(self) -> str:
        """Store the batch, queue its jobs and return the batch id."""
        from app.Jobs.BatchRecorder import batch_recorder
        from app.Queue.QueueManager import manager

        m = manager()
        self._check_members()
        if m.bus_fake is not None:  # QueueFake/BusFake: record the batch, store nothing
            return m.bus_fake.record_batch(self, self.jobs, self._name or None, queue=self._queue, connection=self._connection)
        inline = is_inline(m, self._connection)
        options = self._options(m, inline)
        batch_id = str(uuid.uuid4())
        options = sign_options(m.codec.key, batch_id, options)  # workers act on them: app/Queue/BatchSignature.py
        recorder = batch_recorder(m)
        record = recorder.repository.store(self._name, len(self.jobs), options, batch_id)
        if inline:
            recorder.local[record.id] = {k: list(v) for k, v in self._callbacks.items()}
        self._run_before(record)
        if self.jobs:
            push_members(m, record, self.jobs)
        else:
            recorder.settle(recorder.repository.evaluate(record.id), None)
        return record.id

    def _run_before(self, record: BatchRecord) -> None:
        if not self._before:
            return
        from app.Models.JobBatch import JobBatch

        subject = JobBatch(record)
        for callback in self._before:  # in this process: a lambda is fine; an error stops the dispatch
            callback(*Callbacks.arguments(callback, "before", subject, None))

    def _check_members(self) -> None:
        from app.Jobs.Chain import PendingChain

        for job in self.jobs:
            if not isinstance(job, (Job, PendingChain)):
                raise TypeError(f"a batch holds Job instances or chains, got {type(job).__name__}")

    def _options(self, m: QueueManager, inline: bool) -> dict[str, Any]:
        options: dict[str, Any] = {"allow_failures": self._allow, "queue": self._queue, "connection": self._connection}
        for kind, callbacks in self._callbacks.items():
            if inline:
                continue  # run in this process from the local registry; lambdas are fine here
            for cb in callbacks:
                Callbacks.ensure_queueable(cb, kind, m.codec.allowed)
            options[kind] = [Callbacks.serialize(cb, m.codec) for cb in callbacks]
        if self._continues_chain is not None:
            options["chain"] = self._continues_chain
        return options

    def to_chain_step(self) -> ChainedBatch:
        """Wrap the batch as one step of a chain; its callbacks must be loadable by a worker."""
        from app.Jobs.Chain import ChainedBatch
        from app.Jobs.Steps import encode_step
        from app.Queue.QueueManager import manager

        codec = manager().codec
        for job in self.jobs:
            if not isinstance(job, Job):
                raise TypeError("a batch inside a chain holds Job instances only")
        callbacks = {}
        for kind, items in self._callbacks.items():
            for cb in items:
                Callbacks.ensure_queueable(cb, kind, codec.allowed)
            callbacks[kind] = [Callbacks.serialize(cb, codec) for cb in items]
        return ChainedBatch([encode_step(j, codec) for j in self.jobs],  # type: ignore[arg-type]
                            self._name, self._allow, callbacks, self._queue, self._connection)


def is_inline(m: QueueManager, connection: str | None) -> bool:
    """Tell whether `connection` runs jobs in this process (the sync driver)."""
    return m.connection_config(connection or m.default_connection).get("driver") == "sync"


def push_members(m: QueueManager, record: BatchRecord, jobs: list[Job | PendingChain]) -> None:
    """Queue jobs (and chains) as members of a stored batch."""
    from app.Jobs.BatchRecorder import batch_recorder
    from app.Jobs.Chain import PendingChain

    from app.Queue.BatchSignature import verified_options

    options = verified_options(record.id, record.options, m.codec.keys)  # read back from the store: check it
    queue, connection = options.get("queue"), options.get("connection")
    inline = is_inline(m, connection)
    plain: list[Job] = []
    for job in jobs:
        if isinstance(job, PendingChain):
            job._dispatch_as_member(record.id, queue, connection)
            continue
        job.batch_id, job._batch_member = record.id, None
        plain.append(job)
    if inline:
        for job in plain:
            try:
                m.push(job, queue, connection)
            except Exception as exc:  # counted through JobFailed; the batch's catch gets it
                log.info("batch %s: %s failed: %s", record.id, type(job).__name__, exc)
        return
    recorder = batch_recorder(m)
    for job, job_id in zip(plain, m.bulk(plain, queue, connection)):
        if job_id is None:  # refused (e.g. a unique lock): it will never run, so count it as done
            recorder.settle(recorder.repository.record_success(record.id, f"refused:{uuid.uuid4()}", ""), None)


class BatchableJob(Job):
    """A job meant for batches: implement `_handle`; it is skipped when the batch was cancelled."""

    def handle(self) -> Any:
        current = self.batch()
        if current is not None and current.cancelled():
            self.__dict__["_skipped_as_cancelled"] = True  # Job.status reads `cancelled` (BatchRecorder)
            return None
        return self._handle()

    def _handle(self) -> Any:
        """Do the job's work."""
        raise TypeError(f"{type(self).__name__} must define _handle()")


def batch(jobs: Iterable[Job | PendingChain]) -> PendingBatch:
    """Start a batch of jobs (and chains)."""
    return PendingBatch(jobs)


# `from app.Jobs.Batch import Batch; Batch.find(id)`: Laravel's name for a stored batch (Bus::findBatch).
from app.Models.JobBatch import JobBatch as Batch  # noqa: E402  (JobBatch imports this module lazily only)


__all__ = ["batch", "Batch", "BatchableJob", "PendingBatch"]
