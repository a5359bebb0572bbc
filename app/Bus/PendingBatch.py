"""The batch builder: `batch([...]).then(...).catch(...).finally_(...).dispatch()`.

The batch row (job_batches) is written before any job is pushed, so a fast worker always
finds it. Counting and callbacks happen on the worker, in app/Bus/BatchRecorder.py.
"""
from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any, Iterable, Protocol, runtime_checkable

from app.Bus import Callbacks
from app.Bus.BatchSignature import sign_options, verified_options
from app.Bus.JobBatch import JobBatch
from app.Jobs.Job import Job
from app.Queue.QueueManager import QueueManager, manager

if TYPE_CHECKING:
    from app.Bus.BatchRepository import BatchRecord

log = logging.getLogger("queue.batch")

KINDS = ("progress", "then", "catch", "finally")  # stored with the batch, run on the worker


@runtime_checkable
class BatchMember(Protocol):
    """Something other than a job that a batch can hold: a chain (app/Bus/PendingChain.py)."""

    def dispatch_as_member(self, batch_id: str, queue: str | None, connection: str | None) -> str:
        """Queue it as one member of the stored batch `batch_id`."""
        ...


class PendingBatch:
    """A batch being configured; `dispatch()` stores it and queues its jobs."""

    def __init__(self, jobs: Iterable[Job | BatchMember]) -> None:
        self.jobs: list[Job | BatchMember] = list(jobs)
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
        m = manager()
        self._check_members()
        if m.bus_fake is not None:  # QueueFake/BusFake: record the batch, store nothing
            return str(m.bus_fake.record_batch(self, self.jobs, self._name or None, queue=self._queue,
                                               connection=self._connection))
        inline = is_inline(m, self._connection)
        options = self._options(m, inline)
        batch_id = str(uuid.uuid4())
        options = sign_options(m.codec.key, batch_id, options)  # workers act on them: app/Bus/BatchSignature.py
        recorder = m.batches
        record = recorder.repository.store(self._name, len(self.jobs), options, batch_id)
        if inline:
            recorder.local[record.id] = {k: list(v) for k, v in self._callbacks.items()}
        self._run_before(record)
        if self.jobs:
            push_members(m, record, self.jobs)
        else:
            recorder.run_callbacks(recorder.repository.evaluate(record.id), None)
        return record.id

    def _run_before(self, record: BatchRecord) -> None:
        if not self._before:
            return
        subject = JobBatch(record)
        for callback in self._before:  # in this process: a lambda is fine; an error stops the dispatch
            callback(*Callbacks.arguments(callback, "before", subject, None))

    def _check_members(self) -> None:
        for job in self.jobs:
            if not isinstance(job, (Job, BatchMember)):
                raise TypeError(f"a batch holds Job instances or chains, got {type(job).__name__}")

    def _options(self, m: QueueManager, inline: bool) -> dict[str, Any]:
        options: dict[str, Any] = {"allow_failures": self._allow, "queue": self._queue, "connection": self._connection}
        for kind, callbacks in self._callbacks.items():
            if inline:
                continue  # run in this process from the local registry; lambdas are fine here
            options[kind] = self.stored_callbacks(kind, m)
        if self._continues_chain is not None:
            options["chain"] = self._continues_chain
        return options

    def stored_callbacks(self, kind: str, m: QueueManager) -> list[dict[str, Any]]:
        """Check the `kind` callbacks can be loaded by a worker and return them as stored specs."""
        for cb in self._callbacks[kind]:
            Callbacks.ensure_queueable(cb, kind, m.codec.allowed)
        return [Callbacks.serialize(cb, m.codec) for cb in self._callbacks[kind]]


def is_inline(m: QueueManager, connection: str | None) -> bool:
    """Tell whether `connection` runs jobs in this process (the sync driver)."""
    return bool(m.connection_config(connection or m.default_connection).get("driver") == "sync")


def push_members(m: QueueManager, record: BatchRecord, jobs: list[Job | BatchMember]) -> None:
    """Queue jobs (and chains) as members of a stored batch."""
    options = verified_options(record.id, record.options, m.codec.keys)  # read back from the store: check it
    queue, connection = options.get("queue"), options.get("connection")
    inline = is_inline(m, connection)
    plain: list[Job] = []
    for job in jobs:
        if not isinstance(job, Job):
            job.dispatch_as_member(record.id, queue, connection)
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
    recorder = m.batches
    for job, job_id in zip(plain, m.bulk(plain, queue, connection)):
        if job_id is None:  # refused (e.g. a unique lock): it will never run, so count it as done
            recorder.run_callbacks(recorder.repository.record_success(record.id, f"refused:{uuid.uuid4()}", ""), None)


def batch(jobs: Iterable[Job | BatchMember]) -> PendingBatch:
    """Start a batch of jobs (and chains)."""
    return PendingBatch(jobs)


__all__ = ["batch", "BatchMember", "PendingBatch", "is_inline", "push_members"]
