"""Index the tags of every permanently failed job (Horizon's `failed:<tag>` lists), on JobFailed.

Failures are rare next to completions, so each is indexed at once, right after the worker
wrote its failed record. Entries older than the failed-jobs retention are pruned by the
writers about once an hour. Indexing never breaks job processing.
"""
from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from app.Horizon.Redaction import tag_list
from app.Horizon.TagIndexFactory import failed_tag_index
from app.Queue.events import JobFailed
from app.Queue.Support.time import now

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager

log = logging.getLogger("queue.tags")

PRUNE_INTERVAL = 3600.0
DEFAULT_RETENTION_HOURS = 168


class FailedTagRecorder:
    """Writes (tag, uuid, failed at) entries for a failed job's tags."""

    def __init__(self, manager: QueueManager) -> None:
        self.manager = manager
        self._index: Any = None
        self._pruned_at = 0.0
        self._warned = False

    def on_failed(self, event: JobFailed) -> None:
        """Index the failed job's tags (none: nothing to write)."""
        tags = tag_list(event.envelope)
        job_id = str(event.envelope.get("uuid") or "")
        if not tags or not job_id:
            return
        try:
            if self._index is None:
                self._index = failed_tag_index(self.manager)
            at = now()
            self._index.add("failed", [(tag, job_id, at) for tag in dict.fromkeys(tags)])
            self._prune(at)
        except Exception as exc:
            if not self._warned:
                self._warned = True
                log.warning("could not index the tags of a failed job (%s); run `python artisan migrate`?", exc)

    def _prune(self, at: float) -> None:
        t = time.monotonic()
        if self._pruned_at and t - self._pruned_at < PRUNE_INTERVAL:
            return
        self._pruned_at = t
        hours = self.manager.config.get("retention", {}).get("failed_jobs", DEFAULT_RETENTION_HOURS)
        if hours:
            self._index.prune("failed", at - float(hours) * 3600)


def register(manager: QueueManager) -> None:
    """Listen to JobFailed (bootstrap LISTENER_MODULES)."""
    manager.events.listen(JobFailed, FailedTagRecorder(manager).on_failed)
