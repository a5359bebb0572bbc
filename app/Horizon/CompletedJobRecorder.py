"""Record completed jobs for the dashboard, cheaply: the worker thread appends a row tuple, a flusher writes them.

Listens to JobProcessed (the worker's own events, so Worker.py is untouched). A busy worker
writes its buffered rows itself about every FLUSH_INTERVAL (sooner when MAX_BUFFER wait), as one
statement between two jobs; a background thread writes what an idle worker left behind, and
the buffer is written when the worker stops. Outside a worker loop each job is written at once. Rows older than the completed trim (default 60 minutes)
are pruned by the writers every PRUNE_INTERVAL. Recording never breaks job processing.
Jobs carrying a monitored tag are also indexed under it (Horizon's per-tag lists), so the
Monitoring page counts them without reading payloads; the monitored tags are read at a flush
only when a written job has tags.
"""
from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any

from app.Horizon.CompletedRows import _COMPLETED, _TAGS, _UUID
from app.Horizon.CompletedStoreFactory import completed_store
from app.Horizon.Redaction import data_json, finished_job_data, tags_json
from app.Horizon.settings import completed_recording_enabled, completed_trim_minutes
from app.Horizon.TagIndexFactory import completed_tag_index
from app.Horizon.TagsRepository import MONITORED_KEY
from app.Queue.events import JobProcessed, WorkerStarting, WorkerStopping
from app.Queue.Support.time import now
from app.Queue.Support.WorkerScopedFlusher import WorkerScopedFlusher

if TYPE_CHECKING:
    from app.Horizon.CompletedJobStore import CompletedJobStore
    from app.Horizon.RedisCompletedJobStore import RedisCompletedJobStore
    from app.Horizon.RedisTagIndex import RedisTagIndex
    from app.Horizon.SqlTagIndex import SqlTagIndex
    from app.Queue.QueueManager import QueueManager

log = logging.getLogger("queue.completed")

FLUSH_INTERVAL = 1.0
MAX_BUFFER = 2000
MAX_UNWRITTEN = 20_000
PRUNE_INTERVAL = 60.0


class CompletedJobRecorder(WorkerScopedFlusher):
    """Buffers JobProcessed events while a worker loop runs in this process and writes them as rows."""

    thread_name = "queue-completed-flush"

    def __init__(self, store: CompletedJobStore | RedisCompletedJobStore, manager: QueueManager, trim_minutes: float,
                 tags: SqlTagIndex | RedisTagIndex | None = None) -> None:
        self.store = store
        self.tags = tags
        self.manager = manager
        self.trim_seconds = trim_minutes * 60
        super().__init__()
        self._buffer: list[tuple[Any, ...]] = []
        self._rows: list[tuple[Any, ...]] = []  # built but not yet written (store down)
        self._pruned_at = 0.0
        self._flushed_at = time.monotonic()
        self._warned = False

    def register(self, manager: QueueManager) -> None:
        """Listen to the worker's events."""
        manager.events.listen(JobProcessed, self.on_processed, after_ack=True)  # buffers (flushes when due): may follow the ack
        manager.events.listen(WorkerStarting, self.on_worker_starting)
        manager.events.listen(WorkerStopping, self.on_worker_stopping)

    def on_processed(self, event: JobProcessed) -> None:
        """Buffer the finished job (a worker) or write it now (sync, dispatch_now outside a worker)."""
        # The row is built now, not at flush: it holds only strings and numbers, while keeping the
        # event (job, envelope dicts) alive until the flush would make every GC pass walk them.
        row = self._row(event, now())
        with self._lock:
            in_worker = self._workers > 0
            if in_worker:
                self._buffer.append(row)
                if len(self._buffer) < MAX_BUFFER and time.monotonic() - self._flushed_at < FLUSH_INTERVAL:
                    return
        if not in_worker:
            self._write([row])
            return
        # A busy worker writes its buffer itself, between two jobs, about once a second: a second
        # thread doing it would contend with the worker for the GIL on every write.
        self.flush()

    def flush(self) -> None:
        """Write the buffered jobs now."""
        with self._lock:
            buffered, self._buffer = self._buffer, []
            self._flushed_at = time.monotonic()
        rows = self._rows + buffered
        self._rows = []
        if rows and not self._write(rows):
            self._rows = rows[-MAX_UNWRITTEN:]

    def _flush_loop(self) -> None:
        """Write what an idle worker left in the buffer (a busy one flushes as it goes)."""
        while True:
            self._wake.wait(FLUSH_INTERVAL)
            self._wake.clear()
            if self._stopping:
                return
            if time.monotonic() - self._flushed_at >= FLUSH_INTERVAL:
                self.flush()

    def _row(self, event: JobProcessed, at: float) -> tuple[Any, ...]:
        """The row of one completed job, in CompletedRows.COLUMNS order."""
        envelope = event.envelope
        get = envelope.get
        job = event.job
        name = type(job).__name__ if job is not None else str(get("displayName") or "?")
        created = get("createdAt")
        data = finished_job_data(job, envelope, self.manager.definitions)
        return (
            str(get("uuid") or "")[:64], str(get("connection") or "")[:191],
            str(get("queue") or "default")[:191], name[:191], tags_json(envelope),
            data_json(data) if data else "{}", int(event.attempts), float(event.runtime),
            float(created) if isinstance(created, (int, float)) else at, at,
        )

    def _write(self, rows: list[tuple[Any, ...]]) -> bool:
        try:
            self.store.record(rows)
            self._index_monitored(rows)
            t = time.monotonic()
            if t - self._pruned_at >= PRUNE_INTERVAL:
                self._pruned_at = t
                self.store.prune(now() - self.trim_seconds)
                if self.tags is not None:
                    self.tags.prune("completed", now() - self.trim_seconds)
            return True
        except Exception as exc:
            if not self._warned:
                self._warned = True
                log.warning("could not record completed jobs (%s); run `python artisan migrate`?", exc)
            return False


    def _index_monitored(self, rows: list[tuple[Any, ...]]) -> None:
        """Index the written jobs under the monitored tags they carry."""
        tagged = [r for r in rows if r[_TAGS] != "[]"]
        if not tagged or self.tags is None:
            return
        try:  # the jobs are written already: a failure here must not make the flush write them twice
            monitored = self.manager.cache.get(MONITORED_KEY)
            if not isinstance(monitored, list) or not monitored:
                return
            wanted = {str(t) for t in monitored}
            self.tags.add("completed", [(tag, r[_UUID], r[_COMPLETED]) for r in tagged
                                        for tag in dict.fromkeys(json.loads(r[_TAGS])) if tag in wanted])
        except Exception as exc:
            log.warning("could not index the monitored tags of completed jobs (%s)", exc)


def register(manager: QueueManager) -> None:
    """Record jobs completed in this process (bootstrap REGISTRATIONS); QUEUE_RECORD_COMPLETED=0 turns it off."""
    if not completed_recording_enabled():
        return
    recorder = CompletedJobRecorder(completed_store(manager), manager, completed_trim_minutes(), completed_tag_index(manager))
    recorder.register(manager)
    manager.completed = recorder
