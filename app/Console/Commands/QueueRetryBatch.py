"""queue:retry-batch: push the failed jobs of a batch back onto their queues."""
from __future__ import annotations

from cleo.helpers import argument

from app.Console.Command import Command, UsageError
from app.Console.Support.untrusted import plain
from app.Queue.FailedRetrier import retry_failed
from app.Queue.QueueManager import manager
from app.Bus.BatchRecorder import batch_recorder
from app.Bus.JobBatch import JobBatch


class QueueRetryBatchCommand(Command):
    name = "queue:retry-batch"
    description = "Retry the failed jobs of a batch (lifts a cancellation caused by the failures)"
    arguments = [argument("id", "The batch id")]

    def run_command(self) -> int:
        batch_id = str(self.argument("id"))
        found = JobBatch.find(batch_id)
        if found is None:
            raise UsageError(f"No batch matches the ID [{batch_id}].")
        if not found.failed_job_ids:
            self.line(f"Batch {plain(batch_id, one_line=True)} has no failed jobs.")
            return 0
        batch_recorder(manager()).repository.reopen(batch_id)
        missing: list[str] = []
        with self.progress(len(found.failed_job_ids)) as advance:
            done = retry_failed(manager(), found.failed_job_ids, missing.append, advance)
        for ident in missing:
            self.line_error(f"<error>Failed job [{plain(ident, one_line=True)}] is no longer in the failed jobs store.</error>")
        self.line(f"<info>Pushed {done} failed job(s) of batch {plain(batch_id, one_line=True)} back onto their queues.</info>")
        return 1 if missing else 0
