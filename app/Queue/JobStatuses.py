"""Job states kept in the cache store for `Job.status(job_id)`.

Dispatchers write synchronously. A worker buffers its writes and flushes them at
most FLUSH_INTERVAL later from a small thread, in one round trip: a no-op job
would otherwise pay two extra store writes (processing, completed). The cost is
that another process may see a state up to FLUSH_INTERVAL late, and a worker
killed with SIGKILL can lose its last unflushed states (never a job).
"""
from __future__ import annotations

import threading
from typing import Any

from app.Jobs.JobState import JobState, JobStatus
from app.Queue.contracts import CacheStore, PutEncoded
from app.Queue.Support.time import float_text, now
from app.Queue.StoreOutage import log_failure

FLUSH_INTERVAL = 0.1
_START_PROGRESS = {JobState.COMPLETED: 100.0, JobState.PENDING: 0.0, JobState.PROCESSING: 0.0}
_PENDING = JobState.PENDING  # read per mark: an enum member read off its class costs ~0.1 us, a global far less


class StatusRepository:
    """Read and write `status:<uuid>` records (one small JSON value, kept `ttl` seconds)."""

    def __init__(self, store: CacheStore, ttl: float = 86400, enabled: bool = True) -> None:
        self.store = store
        self.ttl = ttl
        self.enabled = enabled
        self._lock = threading.Lock()
        self._buffer: dict[str, dict[str, Any]] | None = None
        self._flushing: list[dict[str, dict[str, Any]]] = []  # buffers taken by flushes still writing them
        self._flusher: threading.Thread | None = None
        self._stop = threading.Event()
        # Every dispatch writes a pending record: spelt here from a template where the store takes JSON text.
        self._put_encoded = store.put_encoded if isinstance(store, PutEncoded) else None

    @staticmethod
    def key(job_id: str) -> str:
        return f"status:{job_id}"

    def mark(self, job_id: str, state: JobState, attempts: int = 0, progress: float | None = None, error: str | None = None,
             at: float | None = None) -> None:
        """Record a state change made at `at` (default: now); a new attempt starts at 0 %, completion is 100 %, failures keep progress."""
        if not self.enabled or not job_id:
            return
        if state is _PENDING and self._put_encoded is not None and self._buffer is None \
                and not attempts and progress is None and error is None:
            # json.dumps of the dict below, byte for byte (tests/drivers/test_redis_store.py)
            self._put_encoded(f"status:{job_id}", f'{{"state": "pending", "attempts": 0, "progress": 0.0, '
                                                f'"updated_at": {float_text(now() if at is None else at)}, "error": null}}',
                              self.ttl)
            return
        if progress is None:
            progress = _START_PROGRESS.get(state)
            if progress is None:
                current = self.get(job_id)
                progress = current.progress if current else 0.0
        # JobStatus.to_dict's layout, built directly: twice per job, a dataclass and str(enum) cost ~1 us each
        self._write(job_id, {"state": state._value_, "attempts": attempts, "progress": progress, "updated_at": now() if at is None else at,
                             "error": error})

    def mark_pending_many(self, job_ids: list[str]) -> None:
        """Record many new jobs as pending in one round trip (bulk dispatch)."""
        if not self.enabled:
            return
        record = JobStatus("", JobState.PENDING, 0, 0.0, now()).to_dict()  # the same for every job of the bulk
        put_all = getattr(self.store, "put_all", None)
        if put_all is not None:
            put_all([self.key(j) for j in job_ids], record, self.ttl)
        else:
            self._put_many([(j, record) for j in job_ids])

    def mark_many(self, job_ids: list[str], state: JobState) -> None:
        """Record one state for many jobs in one round trip (queue:clear marks what it removed cancelled)."""
        if not self.enabled or not job_ids:
            return
        stamp = now()
        self._put_many([(j, JobStatus(j, state, 0, 0.0, stamp).to_dict()) for j in job_ids])

    def forget_many(self, job_ids: list[str]) -> None:
        """Delete the records of jobs that were never stored (a bulk that failed part way)."""
        keys = [self.key(j) for j in job_ids]
        forget_many = getattr(self.store, "forget_many", None)
        if forget_many is not None:
            forget_many(keys)
        else:
            for key in keys:
                self.store.forget(key)

    def update(self, job_id: str, **changes: Any) -> None:
        """Change fields of an existing record (progress from inside a running job)."""
        current = self.get(job_id)
        data = current.to_dict() if current else {"state": str(JobState.PROCESSING), "attempts": 0}
        data.update(changes, updated_at=now())
        self._write(job_id, data)

    def get(self, job_id: str) -> JobStatus | None:
        data = self.unwritten(job_id) or self.store.get(self.key(job_id))
        return JobStatus.from_dict(job_id, data) if data else None

    def raw(self, job_id: str) -> dict[str, Any] | None:
        """The stored record as a dict (buffered first), or None; a value that is not a dict reads as None."""
        buffered = self.unwritten(job_id)
        data = buffered if buffered is not None else self.store.get(self.key(job_id))
        return data if isinstance(data, dict) else None

    def unwritten(self, job_id: str) -> dict[str, Any] | None:
        """This process's latest record of the job not yet known to be in the store: buffered, or in a flush
        still being written (the store may not show it yet)."""
        with self._lock:
            return self._unwritten(job_id)

    def _unwritten(self, job_id: str) -> dict[str, Any] | None:  # under the lock
        record = self._buffer.get(job_id) if self._buffer is not None else None
        if record is None:
            for flushing in reversed(self._flushing):
                record = flushing.get(job_id)
                if record is not None:
                    break
        return record

    def annotate(self, job_id: str, **fields: Any) -> None:
        """Add fields to a job's current record; free when that record has not reached the store yet."""
        if not self.enabled or not job_id:
            return
        with self._lock:
            buffer = self._buffer
            current = self._unwritten(job_id) if buffer is not None else None
            if buffer is not None and current is not None:  # buffered, or being flushed: written after it
                buffer[job_id] = {**current, **fields}
                return
        current = self.raw(job_id)
        if current is not None:
            self._write(job_id, {**current, **fields})

    # -- write-behind for workers ------------------------------------------------------------
    def start_buffering(self) -> None:
        """Buffer writes and flush them every FLUSH_INTERVAL from a background thread."""
        with self._lock:
            if self._buffer is not None:
                return
            self._buffer = {}
            self._stop.clear()
        self._flusher = threading.Thread(target=self._flush_loop, name="queue-status-flush", daemon=True)
        self._flusher.start()

    def stop_buffering(self) -> None:
        """Flush what is buffered and write synchronously again."""
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join(5)
            self._flusher = None
        self.flush()
        with self._lock:
            self._buffer = None

    def flush(self) -> None:
        """Write buffered records now, in one round trip."""
        with self._lock:
            if not self._buffer:
                return
            pending, self._buffer = self._buffer, {}
            self._flushing.append(pending)  # still readable (and annotatable) until the store has it
        try:
            self._put_many(list(pending.items()))
        except Exception:
            with self._lock:  # keep them for the next flush, unless a newer state arrived meanwhile
                if self._buffer is not None:
                    self._buffer = {**pending, **self._buffer}
            raise
        finally:
            with self._lock:
                self._flushing.remove(pending)

    def _flush_loop(self) -> None:
        while not self._stop.wait(FLUSH_INTERVAL):
            try:
                self.flush()
            except Exception as exc:  # the store is down: keep the states for the next try
                import logging


                log_failure(logging.getLogger("queue.worker"), "could not write job statuses", exc)

    def _write(self, job_id: str, data: dict[str, Any]) -> None:
        with self._lock:
            if self._buffer is not None:
                self._buffer[job_id] = data
                return
        self.store.put(self.key(job_id), data, self.ttl)

    def _put_many(self, records: list[tuple[str, dict[str, Any]]]) -> None:
        put_many = getattr(self.store, "put_many", None)
        items = [(self.key(j), d, self.ttl) for j, d in records]
        if put_many is not None:
            put_many(items)
        else:
            for key, data, ttl in items:
                self.store.put(key, data, ttl)
