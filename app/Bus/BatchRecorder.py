"""Count batch members as the worker settles them and run the callbacks each update wins.

Registered through app/Queue/bootstrap.py as `manager.batches` (the job's batch id comes back
from the envelope in PayloadCodec.restore): JobProcessed and JobFailed update job_batches
atomically (app/Bus/BatchRepository.py) and the callbacks won by the update run here, once.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from app.Bus import Callbacks
from app.Bus.BatchSignature import verified_options
from app.Bus.JobBatch import JobBatch
from app.Bus.PendingBatch import BatchMember, push_members
from app.Jobs.JobState import JobState
from app.Queue.errors import InvalidPayloadError, QueueError
from app.Queue.events import JobFailed, JobProcessed

if TYPE_CHECKING:
    from app.Bus.BatchRepository import BatchRecord, DatabaseBatchRepository, Outcome
    from app.Jobs.Job import Job
    from app.Queue.QueueManager import QueueManager

log = logging.getLogger("queue.batch")


class BatchRecorder:
    """Listens to worker events for jobs that carry a batch id."""

    def __init__(self, manager: QueueManager) -> None:
        self.manager = manager
        self.local: dict[str, dict[str, list[Any]]] = {}  # callbacks of batches run on the sync connection
        self._repository: DatabaseBatchRepository | None = None

    @property
    def repository(self) -> DatabaseBatchRepository:
        if self._repository is None:
            # lazy: SQLAlchemy stays out of a worker that never meets a batch (an idle
            # Redis worker's memory target, guarded by tests/drivers/test_worker_imports.py).
            from app.Bus.BatchRepository import DatabaseBatchRepository

            self._repository = DatabaseBatchRepository(self.manager.engine())
        return self._repository

    # -- listeners ----------------------------------------------------------------------------
    def on_processed(self, event: JobProcessed) -> None:
        env = event.envelope
        batch_id = env.get("batchId")
        if not batch_id:
            return
        if event.job.__dict__.get("_skipped_as_cancelled"):  # skipped, not done: after the worker's `completed`
            self.manager.statuses.mark(env.get("uuid") or "", JobState.CANCELLED, event.attempts)
        chain = event.job._chain if event.job._chain is not None else env.get("chain")
        if env.get("batchMember") and chain and chain.get("steps"):
            return  # a chain counts as one member: it succeeds with its last step
        member = env.get("batchMember") or env.get("uuid") or ""
        outcome = self.repository.record_success(batch_id, member, env.get("uuid") or "")
        self._progress(outcome)
        self.run_callbacks(outcome, None)

    def _progress(self, outcome: Outcome | None) -> None:
        """Run the batch's progress callbacks for a member counted now (not for a duplicate report)."""
        if outcome is None or not outcome.batch.options.get("progress") and outcome.batch.id not in self.local:
            return
        record = outcome.batch
        subject = JobBatch(record)
        for callback in self._callbacks(record, "progress"):
            Callbacks.run(callback, "progress", subject, None, self.manager, record.options.get("queue"),
                          record.options.get("connection"))

    def on_failed(self, event: JobFailed) -> None:
        env = event.envelope
        batch_id = env.get("batchId")
        if not batch_id:
            return
        member = env.get("batchMember") or env.get("uuid") or ""
        self.run_callbacks(self.repository.record_failure(batch_id, member, env.get("uuid") or ""), event.exception)

    # -- callbacks ----------------------------------------------------------------------------
    def run_callbacks(self, outcome: Outcome | None, exception: BaseException | None) -> None:
        """Run the callbacks this update won, in order catch, then, finally."""
        if outcome is None or not outcome.fire:
            return
        record = outcome.batch
        try:  # options from the store run nothing unless APP_KEY signed them
            verified_options(record.id, record.options, self.manager.codec.keys)
        except InvalidPayloadError as exc:
            log.error("%s", exc)
            return
        subject = JobBatch(record)
        queue, connection = record.options.get("queue"), record.options.get("connection")
        for kind in outcome.fire:
            for callback in self._callbacks(record, kind):
                Callbacks.run(callback, kind, subject, exception, self.manager, queue, connection)
            self._continue_chain(record, kind, exception)
        if "finally" in outcome.fire:
            self.local.pop(record.id, None)

    def _callbacks(self, record: BatchRecord, kind: str) -> list[Any]:
        if record.id in self.local:
            return self.local[record.id].get(kind, [])
        loaded = []
        for spec in record.options.get(kind) or []:
            try:
                loaded.append(Callbacks.load(spec, self.manager.codec))
            except Exception:
                log.exception("batch %s: cannot load %s callback %r", record.id, kind, spec)
        return loaded

    def _continue_chain(self, record: BatchRecord, kind: str, exception: BaseException | None) -> None:
        """A batch that is a step of a chain: go on with the chain, or fail it."""
        chain = record.options.get("chain")
        if not chain:
            return
        chains = self.manager.chains
        if kind == "then":
            chains.advance(chain, None, f"batch:{record.id}")
        elif kind == "catch":
            chains.fail(chain, exception or RuntimeError("batch failed"))
        elif kind == "finally" and not {"then", "catch"} & set(record.options.get("fired", ())):
            chains.fail(chain, QueueError(f"batch {record.id} was cancelled"))

    # -- the static API ------------------------------------------------------------------------
    def find(self, batch_id: str) -> JobBatch | None:
        """Load a batch by id (None when unknown): `JobBatch.find`, `Job.batch()`."""
        record = self.repository.find(batch_id)
        return JobBatch(record) if record else None

    def add_members(self, batch_id: str, jobs: list[Job | BatchMember]) -> None:
        """Count more members into a stored batch and queue them (`JobBatch.add`)."""
        record = self.repository.increment_total(batch_id, len(jobs))
        push_members(self.manager, record, jobs)


def batch_recorder(manager: QueueManager) -> BatchRecorder:
    """The manager's recorder (registered when the manager boots): `manager.batches`."""
    return manager.batches


def register(manager: QueueManager) -> None:
    """Wire the batch listeners into `manager`."""
    recorder = BatchRecorder(manager)
    manager.batches = recorder
    manager.events.listen(JobProcessed, recorder.on_processed)
    manager.events.listen(JobFailed, recorder.on_failed)
