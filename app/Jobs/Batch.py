"""Batches (public path `app.Jobs.Batch`): the BatchableJob base, plus the builder from app/Bus.

`batch([...]).then(...).catch(...).finally_(...).dispatch()` lives in app/Bus/PendingBatch.py;
the batch machinery (repository, recorder, callbacks, JobBatch) in app/Bus.
"""
from __future__ import annotations

from typing import Any

from app.Bus.JobBatch import JobBatch as Batch  # Laravel's name for a stored batch (Bus::findBatch)
from app.Bus.PendingBatch import PendingBatch, batch, is_inline, push_members
from app.Jobs.Job import Job


class BatchableJob(Job):
    """A job meant for batches: implement `_handle`; it is skipped when the batch was cancelled."""

    def handle(self) -> Any:
        """Run `_handle` unless the job's batch was cancelled."""
        current = self.batch()
        if current is not None and current.cancelled():
            self.__dict__["_skipped_as_cancelled"] = True  # Job.status reads `cancelled` (app/Bus/BatchRecorder.py)
            return None
        return self._handle()

    def _handle(self) -> Any:
        """Do the job's work."""
        raise TypeError(f"{type(self).__name__} must define _handle()")


__all__ = ["batch", "Batch", "BatchableJob", "PendingBatch", "is_inline", "push_members"]
