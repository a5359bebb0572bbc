"""Record lifecycle events in the audit store, buffered so a busy worker writes in batches.

Registered through app/Queue/bootstrap.py. Worker and dispatch events (dispatched, started,
released, failed) are buffered and written `batch` at a time, or once the oldest buffered entry
is `flush_seconds` old, when the worker stops, and when the process exits. Operator actions
(retried, forgotten, cleared, batch cancelled, imported, tenant forgotten) go through `audit()`,
which writes at once. Entries hold envelope metadata only: never the job's data, never the
plaintext of encrypted fields.
"""
from __future__ import annotations

import atexit
import functools
import json
import logging
import weakref
from typing import TYPE_CHECKING, Any, Iterable

from app.Audit.AuditEntry import TEXT_MAX, AuditEntry, actor, entry, host
from app.Audit.AuditStores import AuditStore, RedisAuditStore
from app.Queue.events import JobFailed, JobProcessing, JobQueued, JobReleased, WorkerStopping
from app.Queue.Support.time import now

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager

log = logging.getLogger("queue.audit")
# AuditEntry from a tuple of all its fields, without NamedTuple's Python-level __new__ (a bulk makes one per job)
_new_entry = functools.partial(tuple.__new__, AuditEntry)
MAX_BUFFER = 50_000  # entries kept while the store is unreachable; beyond, the oldest are dropped (and logged)


def audit_settings(manager: QueueManager) -> dict[str, Any]:
    defaults = {"enabled": True, "store": None, "stream_max": 100_000, "batch": 500, "flush_seconds": 1.0}
    return {**defaults, **dict(manager.config.get("audit") or {})}


def make_store(manager: QueueManager) -> AuditStore:
    """The audit store: a Redis stream when the default connection is Redis (or QUEUE_AUDIT_STORE=redis), else the table."""
    settings = audit_settings(manager)
    kind = settings["store"] or ("redis" if manager.connection_config().get("driver") == "redis" else "database")
    if kind == "redis":
        return RedisAuditStore.from_config(manager.connection_config("redis"), int(settings["stream_max"]))
    from app.Audit.DatabaseAuditStore import DatabaseAuditStore  # lazy: SQLAlchemy only where the table is used

    return DatabaseAuditStore(manager.engine())


class AuditTrail:
    """Buffers entries and writes them to the store in batches."""

    def __init__(self, manager: QueueManager) -> None:
        settings = audit_settings(manager)
        self.manager = manager
        self.batch = max(1, int(settings["batch"]))
        self.flush_seconds = float(settings["flush_seconds"])
        self.actor = actor()
        self.host = host()
        self._store: AuditStore | None = None
        self._buffer: list[AuditEntry] = []
        self._oldest = 0.0

    @property
    def store(self) -> AuditStore:
        if self._store is None:
            self._store = make_store(self.manager)
        return self._store

    def add(self, item: AuditEntry, wait: bool = True) -> None:
        """Buffer one entry; write the buffer when it is full or its oldest entry is due (see flush for `wait`)."""
        if not self._buffer:
            self._oldest = item.at
            if self._store is None:  # bind the store now: a flush at exit writes where the entries were made
                try:
                    self.store
                except Exception:  # never fail a dispatch for the audit; flush() retries and warns
                    pass
        self._buffer.append(item)
        if len(self._buffer) >= self.batch or item.at - self._oldest >= self.flush_seconds:
            self.flush(wait=wait)

    def add_many(self, items: list[AuditEntry]) -> None:
        """Buffer several entries (a bulk dispatch's), writing as `add` would once they are buffered."""
        if not items:
            return
        if not self._buffer:
            self.add(items[0])
            items = items[1:]
        self._buffer += items
        if len(self._buffer) >= self.batch or self._buffer[-1].at - self._oldest >= self.flush_seconds:
            self.flush(wait=False)  # the dispatcher goes on while the store writes (the next flush() waits)

    def flush(self, wait: bool = True) -> None:
        """Write every buffered entry (kept for the next try if the store is unreachable).

        With `wait`, return once the store has applied every write of this trail, earlier
        unwaited ones too; without, a store that can (Redis) only sends them, and a failure it
        reports later is logged then instead of keeping the entries.
        """
        pending, self._buffer = self._buffer, []
        if pending:
            try:
                self.store.append_many(pending, wait=wait)
            except Exception as exc:  # the audit must never stop a worker; keep the entries for the next flush
                log.warning("audit entries not written yet (%d buffered): %s", len(pending), exc)
                self._buffer = (pending + self._buffer)[-MAX_BUFFER:]
                return
        sync = getattr(self._store, "sync", None) if wait else None
        if sync is not None:
            try:
                sync()
            except Exception as exc:  # entries already sent: not kept again (that would write them twice)
                log.warning("audit entries sent earlier may not be stored: %s", exc)

    # -- listeners ----------------------------------------------------------------------------
    def on_queued(self, event: JobQueued) -> None:
        self.queued(event.job, event.uuid, event.queue, event.connection)

    def queued(self, job: Any, job_uuid: str, queue: str, connection: str) -> None:
        """The 'dispatched' entry of one job; QueueManager calls it without a JobQueued when the trail alone listens.

        A dispatch that fills the buffer sends it without waiting for the store (as a bulk does):
        the dispatcher does not stand idle while Redis runs the batch's XADDs; the next waiting
        flush (and the one at exit) syncs what was sent.
        """
        self.add(self._dispatched(job, job_uuid, queue, connection, now()), wait=False)

    def on_queued_many(self, queued: Iterable[tuple[Any, str, str, str]]) -> None:
        """The 'dispatched' entries of a bulk dispatch, (job, uuid, queue, connection) each, stamped with one time.

        Bulk dispatch calls this in place of `on_queued` per job (app/Queue/BulkDispatch.py).
        """
        at = now()
        self.add_many([self._dispatched(job, job_uuid, queue, connection, at) for job, job_uuid, queue, connection in queued])

    def _dispatched(self, job: Any, job_uuid: str, queue: str, connection: str, at: float) -> AuditEntry:
        """The 'dispatched' entry of one job, made at `at`."""
        tenant = getattr(job, "tenant", None)  # _tenant spelt out: one entry per dispatch
        return _new_entry(("dispatched", job_uuid, type(job).__name__, queue, connection,
                           None if tenant is None else str(tenant)[:TEXT_MAX], None, at,
                           self.host, self.actor, None))

    def on_processing(self, event: JobProcessing) -> None:
        get = event.envelope.get
        tenant = get("tenant")  # tenant_of, inline: once per job
        self.add(_new_entry(("started", get("uuid"), get("displayName"), get("queue"), get("connection"),
                             None if tenant is None else str(tenant)[:TEXT_MAX], event.attempts, now(), self.host,
                             self.actor, None)))

    def on_released(self, event: JobReleased) -> None:
        cause = type(event.exception).__name__ if event.exception is not None else None
        self.add(entry("released", event.envelope, event.attempts, self.actor, cause))

    def on_failed(self, event: JobFailed) -> None:
        self.add(entry("failed", event.envelope, event.attempts, self.actor, type(event.exception).__name__))
        self.flush()  # a failure is rare and worth having on disk at once

    def on_stopping(self, event: WorkerStopping) -> None:
        self.flush()


def envelope_of(payload: str) -> dict[str, Any]:
    """The metadata of an (untrusted) stored payload, for an audit entry; {} when it is not JSON."""
    try:
        data = json.loads(payload)
    except (ValueError, TypeError):
        return {}
    return data if isinstance(data, dict) else {}


def audit(manager: QueueManager, event: str, envelope: dict[str, Any] | None = None, detail: str | None = None,
          **fields: Any) -> None:
    """Record an operator action (retried, forgotten, cleared, ...) now, with the acting user and command."""
    manager.config  # boots the listeners (and the trail) if this process has not yet
    trail: AuditTrail | None = manager.audit_trail
    if trail is None:
        return
    trail.add(entry(event, envelope, None, actor(), detail, **fields))
    trail.flush()


def _flush_at_exit(ref: weakref.ref[AuditTrail]) -> None:
    trail = ref()
    if trail is not None:
        try:
            trail.flush()
        except Exception:  # the process is ending: the store may be gone
            pass


def register(manager: QueueManager) -> None:
    """Wire the audit listeners into `manager` (QUEUE_AUDIT=false turns the trail off)."""
    if not audit_settings(manager)["enabled"]:
        manager.audit_trail = None
        return
    trail = AuditTrail(manager)
    manager.audit_trail = trail
    manager.events.listen(JobQueued, trail.on_queued)
    manager.events.listen(JobProcessing, trail.on_processing)
    manager.events.listen(JobReleased, trail.on_released)
    manager.events.listen(JobFailed, trail.on_failed)
    manager.events.listen(WorkerStopping, trail.on_stopping)
    atexit.register(_flush_at_exit, weakref.ref(trail))


def flush(manager: QueueManager) -> None:
    """Write what the process's trail has buffered (tests, commands that read the trail)."""
    trail: AuditTrail | None = manager.audit_trail
    if trail is not None:
        trail.flush()

