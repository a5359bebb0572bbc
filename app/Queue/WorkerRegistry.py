"""Live workers for queue:health and queue:top: each worker publishes a heartbeat record to the cache store.

One key per worker (`queue:worker:<id>`, expiring HEARTBEAT_TTL seconds after its last
heartbeat) says who it is and what it runs. An index key (`queue:workers`) lists the
ids; it changes only when a worker starts or stops, under a short lock taken with the
store's atomic `add`, so concurrent starts in other processes are not lost. A worker
killed with SIGKILL stays in the index without a record: readers report it as gone and
`prune` drops it. A worker publishes from a background thread once a second, so a job
that runs for minutes does not make its worker look dead.
"""
from __future__ import annotations

import contextvars
import logging
import os
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator

from app.Queue.contracts import CacheStore
from app.Queue.events import JobFailed, JobProcessed, JobProcessing, JobReleased, WorkerStarting, WorkerStopping
from app.Queue.StopConditions import rss_mb
from app.Queue.StoreOutage import log_failure
from app.Queue.Support.time import now

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager

log = logging.getLogger("queue.worker")

HEARTBEAT_INTERVAL = 1.0
HEARTBEAT_TTL = 15.0
INDEX_KEY = "queue:workers"
RECORD_PREFIX = "queue:worker:"
LOCK_KEY = "queue:workers:lock"
LOCK_TTL = 5.0

# The worker loop whose jobs the current thread (or task) runs: slot threads of a concurrent
# worker are started in a copy of its context, so they find its state without a lookup table.
_CURRENT_STATE: contextvars.ContextVar[WorkerState | None] = contextvars.ContextVar("queue_worker_state", default=None)


class WorkerRegistry:
    """Read and write worker heartbeat records in a CacheStore."""

    def __init__(self, cache: CacheStore) -> None:
        self.cache = cache

    def publish(self, record: dict[str, Any]) -> None:
        """Write one worker's record, expiring HEARTBEAT_TTL seconds from now."""
        self.cache.put(RECORD_PREFIX + record["id"], record, HEARTBEAT_TTL)

    def join(self, worker_id: str) -> None:
        """Add a worker to the index."""
        with self._index_lock():
            index = self.cache.get(INDEX_KEY) or {}
            index[worker_id] = now()
            self.cache.put(INDEX_KEY, index)

    def leave(self, worker_id: str) -> None:
        """Remove a stopping worker's record and index entry."""
        self.cache.forget(RECORD_PREFIX + worker_id)
        self.prune([worker_id])

    def prune(self, worker_ids: list[str]) -> None:
        """Drop ids from the index (workers that stopped or died)."""
        if not worker_ids:
            return
        with self._index_lock():
            index = self.cache.get(INDEX_KEY) or {}
            for worker_id in worker_ids:
                index.pop(worker_id, None)
            self.cache.put(INDEX_KEY, index)

    def listed(self, worker_id: str) -> bool:
        return worker_id in (self.cache.get(INDEX_KEY) or {})

    def workers(self) -> tuple[list[dict[str, Any]], list[str]]:
        """Return (records of live workers sorted by id, ids of listed workers whose heartbeat expired)."""
        index: dict[str, Any] = self.cache.get(INDEX_KEY) or {}
        keys = [RECORD_PREFIX + worker_id for worker_id in index]
        many: Callable[[list[str]], dict[str, Any]] | None = getattr(self.cache, "many", None)
        records = many(keys) if many is not None else {k: self.cache.get(k) for k in keys}
        live = [records[k] for k in keys if records.get(k)]
        gone = [worker_id for worker_id, k in zip(index, keys) if not records.get(k)]
        return sorted(live, key=lambda r: r["id"]), sorted(gone)

    @contextmanager
    def _index_lock(self) -> Iterator[None]:
        owner = uuid.uuid4().hex
        deadline = time.monotonic() + LOCK_TTL
        held = False
        while not held and time.monotonic() < deadline:
            held = self.cache.add(LOCK_KEY, owner, LOCK_TTL)
            if not held:
                time.sleep(0.01)
        if not held:  # the holder died: its lock expires by LOCK_TTL, so this is rare; go on rather than hang
            log.warning("could not lock the worker index; updating it anyway")
        try:
            yield
        finally:
            if held and self.cache.get(LOCK_KEY) == owner:
                self.cache.forget(LOCK_KEY)


@dataclass
class WorkerState:
    """What one worker loop in this process is doing (mutated by the worker thread, read by the publisher)."""

    worker_id: str
    name: str
    connection: str
    queues: tuple[str, ...]
    started_at: float
    processed: int = 0
    failed: int = 0
    released: int = 0
    concurrency: int = 1
    running: dict[str, dict[str, Any]] = field(default_factory=dict)  # uuid -> job, one per busy slot
    peak_memory_mb: float = 0.0

    def record(self, running: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The heartbeat record: `current` is the oldest running job, `slots` every running job (`running`:
        them, as taken under the monitor's lock; default: read now); memory is the process's RSS read now
        (each heartbeat), and its peak so far."""
        memory = round(rss_mb(), 1)
        self.peak_memory_mb = max(self.peak_memory_mb, memory)
        if running is None:
            running = list(self.running.values())
        current = running[0] if running else None
        return {
            "id": self.worker_id, "name": self.name, "pid": os.getpid(), "host": socket.gethostname(),
            "connection": self.connection, "queues": list(self.queues), "started_at": self.started_at,
            "last_seen": now(), "processed": self.processed, "failed": self.failed, "released": self.released,
            "current": dict(current) if current else None,
            "concurrency": self.concurrency, "slots": [dict(job) for job in running],
            "memory_mb": memory, "peak_memory_mb": self.peak_memory_mb,
        }


class WorkerMonitor:
    """Event listeners that keep WorkerState per worker thread and publish it every HEARTBEAT_INTERVAL."""

    def __init__(self, registry: Callable[[], WorkerRegistry]) -> None:
        self._registry = registry
        self._lock = threading.Lock()
        self._states: dict[int, WorkerState] = {}
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def register(self, manager: QueueManager) -> None:
        events = manager.events
        events.listen(WorkerStarting, self.on_worker_starting)
        events.listen(WorkerStopping, self.on_worker_stopping)
        events.listen(JobProcessing, self.on_job_processing)
        events.listen(JobProcessed, self.on_job_processed, after_ack=True)  # memory only: may follow the ack
        events.listen(JobFailed, self.on_job_failed)
        events.listen(JobReleased, self.on_job_released)

    def on_worker_starting(self, event: WorkerStarting) -> None:
        state = WorkerState(event.worker_id, event.name, event.connection, event.queues, now(),
                            concurrency=getattr(event, "concurrency", 1))
        with self._lock:
            self._states[threading.get_ident()] = state
        _CURRENT_STATE.set(state)
        registry = self._registry()
        registry.join(state.worker_id)
        registry.publish(state.record())
        with self._lock:
            if self._thread is None:
                self._wake.clear()
                self._thread = threading.Thread(target=self._publish_loop, name="queue-worker-heartbeat", daemon=True)
                self._thread.start()

    def on_worker_stopping(self, event: WorkerStopping) -> None:
        with self._lock:
            state = self._states.pop(threading.get_ident(), None)
            _CURRENT_STATE.set(None)
            thread = self._thread if not self._states else None
            if thread is not None:
                self._thread = None
        if thread is not None:
            self._wake.set()
            thread.join(5)
        if state is not None:
            try:
                self._registry().leave(state.worker_id)
            except Exception as exc:
                log_failure(log, "could not remove the worker from the registry; it will show as gone", exc)

    def _state(self) -> WorkerState | None:
        """The state of the worker loop this thread belongs to (the one that started its slot, or its own)."""
        return _CURRENT_STATE.get() or self._states.get(threading.get_ident())

    # The per-job critical sections call nothing: a call is where a thread may hand the GIL over,
    # and a slot thread switched out while holding the lock had the other slots queue behind it.
    def on_job_processing(self, event: JobProcessing) -> None:
        state = self._state()
        if state is not None:
            envelope = event.envelope
            job = {"job": type(event.job).__name__, "uuid": envelope.get("uuid"), "queue": envelope.get("queue"),
                   "attempts": event.attempts, "started_at": now()}
            key, running = str(job["uuid"]), state.running
            with self._lock:
                running[key] = job

    def on_job_processed(self, event: JobProcessed) -> None:
        self._ended(event.envelope, "processed")

    def on_job_failed(self, event: JobFailed) -> None:
        self._ended(event.envelope, "failed")

    def on_job_released(self, event: JobReleased) -> None:
        self._ended(event.envelope, "released")

    def _ended(self, envelope: dict[str, Any] | None, outcome: str) -> None:
        """The job left its slot: drop it from the running jobs and count its `outcome`."""
        state = self._state()
        if state is None:
            return
        key, running = str((envelope or {}).get("uuid")), state.running
        with self._lock:
            if key in running:
                del running[key]
            if outcome == "processed":
                state.processed += 1
            elif outcome == "failed":
                state.failed += 1
            else:
                state.released += 1

    def _publish_loop(self) -> None:
        checked = 0.0
        while not self._wake.wait(HEARTBEAT_INTERVAL):
            with self._lock:  # only the snapshot: the record reads /proc, which would hold up every job meanwhile
                taken = [(state, list(state.running.values())) for state in self._states.values()]
            records = [state.record(running) for state, running in taken]
            try:
                registry = self._registry()
                for record in records:
                    registry.publish(record)
                if time.monotonic() - checked > 30:  # the index was lost (cache flushed): join again
                    checked = time.monotonic()
                    for record in records:
                        if not registry.listed(record["id"]):
                            registry.join(record["id"])
            except Exception as exc:  # the store is down: the next beat retries
                log_failure(log, "could not publish the worker heartbeat", exc)


def register(manager: QueueManager) -> None:
    """Publish heartbeats of worker loops run in this process (bootstrap REGISTRATIONS)."""
    WorkerMonitor(lambda: WorkerRegistry(manager.cache)).register(manager)
