"""ChainedBatch: the chain step that dispatches a batch; the batch continues the chain when it completes."""
from __future__ import annotations

from typing import Any

from app.Bus import Callbacks
from app.Bus.PendingBatch import PendingBatch
from app.Bus.Steps import decode_step
from app.Jobs.Job import Job
from app.Queue.QueueManager import manager


class ChainedBatch(Job):
    """A chain step that dispatches a batch; the batch continues the chain when it completes."""

    continues_chain_itself = True  # app/Bus/BatchRecorder.py moves the chain on when the batch completes

    def __init__(self, jobs: list[dict[str, Any]], batch_name: str, allow: int | bool,
                 callbacks: dict[str, list[dict[str, Any]]], batch_queue: str | None, batch_connection: str | None) -> None:
        super().__init__()
        self.jobs, self.batch_name, self.allow = jobs, batch_name, allow
        self.callbacks, self.batch_queue, self.batch_connection = callbacks, batch_queue, batch_connection

    def handle(self) -> str:
        """Dispatch the batch once (a second run finds the first one's id) and return its id."""
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
