"""Bulk dispatch: queue many jobs with per-bulk work done once and the store working while Python does.

One `QueueManager.bulk` call runs in three steps, in an order that keeps bulk's guarantees:

1. Draft every job (type check, target, guards, data encoding: all that can fail) before
   any job is stored, so a job that cannot be serialised stores nothing. Every
   STATUS_SLICE jobs the drafted ones are marked pending, so the store writes statuses
   while Python encodes the next slice; if a later job fails, those statuses are deleted.
2. Mark the rest pending: a job is pending before any worker can see it.
3. Store: payloads are signed lazily, so a streaming driver (Redis) stores the chunks
   already sent while the next ones are signed; other drivers get a list.
"""
from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Sequence

from app.Queue.Queueable import Queueable
from app.Queue.contracts import PushItem, StreamingBulk
from app.Queue.events import JobQueued
from app.Queue.Support import collector

if TYPE_CHECKING:
    from app.Jobs.Job import Job
    from app.Queue.QueueManager import QueueManager

log = logging.getLogger("queue.bulk")

STATUS_SLICE = 250  # jobs per pending-status write while drafting: small enough to overlap, large enough to batch


class BulkDraft(NamedTuple):
    """One job of a bulk between encoding and storing: its payload text is signed when `signed`."""

    uuid: str
    connection: str
    queue: str
    text: str
    signed: bool
    delay: float
    priority: int


# A BulkDraft from a tuple of its fields, without NamedTuple's Python-level __new__ (~0.15 us a job)
_new_draft = functools.partial(tuple.__new__, BulkDraft)


class BulkDispatch:
    """One call of `QueueManager.bulk`."""

    def __init__(self, manager: QueueManager, jobs: list[Job], queue: str | None, connection: str | None) -> None:
        self.manager = manager
        self.jobs = jobs
        self.queue = queue
        self.connection = connection
        self.builder = manager.codec.bulk_builder(len(jobs))
        self._targets: dict[tuple[Any, Any], tuple[str, str]] = {}
        self._inline: dict[str, bool] = {}
        self._marked: list[str] = []

    def run(self) -> list[str | None]:
        """Queue the jobs; returns their uuids (None where a guard refused one)."""
        with collector.paused():
            return self._run()

    def _run(self) -> list[str | None]:
        m = self.manager
        m._check_bulk_capacity(self.jobs, self.queue, self.connection)  # before the guards: a refused bulk takes no lock
        drafts = self._draft_all()
        ids = [d[0] if d is not None else None for d in drafts]
        for job, job_id in zip(self.jobs, ids):
            job.job_id = job_id
        for conn, members in self._by_connection(drafts).items():
            self._store(conn, members)
        listeners = m.events.listeners.get(JobQueued)
        if listeners:
            self._announce(listeners, drafts)
        return ids

    def _by_connection(self, drafts: Sequence[BulkDraft | None]) -> dict[str, list[BulkDraft]]:
        """The drafted jobs per connection, in order (one list when every target is on one connection)."""
        stored = [d for d in drafts if d is not None]
        connections = {conn for _, conn in self._targets.values()}
        if len(connections) == 1:
            return {connections.pop(): stored} if stored else {}
        groups: dict[str, list[BulkDraft]] = {}
        for d in stored:
            groups.setdefault(d.connection, []).append(d)
        return groups

    def _announce(self, listeners: list[Callable[[Any], None]], drafts: list[BulkDraft | None]) -> None:
        """JobQueued for each stored job, in order; the audit trail takes the whole bulk in one call."""
        trail = self.manager.audit_trail
        bulk_form = trail.on_queued if trail is not None and trail.on_queued in listeners else None
        if bulk_form is not None and trail is not None:
            trail.on_queued_many([(job, d.uuid, d.queue, d.connection) for job, d in zip(self.jobs, drafts) if d is not None])
        per_job = [listener for listener in listeners if listener != bulk_form]
        if not per_job:
            return
        for job, d in zip(self.jobs, drafts):
            if d is not None:
                event = JobQueued(job, d.uuid, d.queue, d.connection)
                for listener in per_job:
                    listener(event)

    def _store(self, conn: str, members: list[BulkDraft]) -> None:
        driver = self.manager.connection(conn)
        sign = self.builder.sign
        if self._runs_inline(conn):
            for _, _, queue, text, signed, delay, priority in members:
                driver.push(text if signed else sign(text), queue, delay, priority)
        elif isinstance(driver, StreamingBulk):
            counts: dict[str, int] = {}
            for d in members:
                counts[d.queue] = counts.get(d.queue, 0) + 1
            # plain tuples in PushItem's order: a streaming driver unpacks them, and a NamedTuple costs ~0.2 us more a job
            driver.bulk_stream(((text if signed else sign(text), queue, delay, priority)
                                for _, _, queue, text, signed, delay, priority in members), counts)
        else:
            driver.bulk([PushItem(text if signed else sign(text), queue, delay, priority)
                         for _, _, queue, text, signed, delay, priority in members])

    def _draft_all(self) -> list[BulkDraft | None]:
        """Draft every job, marking each slice pending as it is done; undo the marks if a job fails.

        Bulk's `QueueManager._prepare`, in one loop: the type and allow-list checks once per class,
        each distinct target resolved once, then per job the guards and the encoding.
        """
        out: list[BulkDraft | None] = []
        append = out.append
        guards = self.manager.push_guards
        targets = self._targets
        draft = self.builder.draft
        checked: set[type] = set()
        marked_up_to = 0
        try:
            for job in self.jobs:
                if type(job) not in checked:
                    self._check_class(job)
                    checked.add(type(job))
                queue_name, conn = targets.get((job.queue, job.connection)) or self._target(job)
                for guard in guards:
                    if not guard(job, queue_name, conn):
                        break
                else:
                    job_uuid, text, signed = draft(job, queue_name, conn, job._payload_extra())
                    append(_new_draft((job_uuid, conn, queue_name, text, signed, job.delay_seconds(), int(job.priority or 0))))
                    if len(out) - marked_up_to >= STATUS_SLICE:
                        self._mark(out[marked_up_to:])
                        marked_up_to = len(out)
                    continue
                append(None)  # a guard refused it (a unique job already queued)
        except BaseException:
            self._unmark()
            raise
        self._mark(out[marked_up_to:])
        return out

    def _check_class(self, job: Any) -> None:
        """A job of a class not seen yet in this bulk: a Job, from an allowed module (before any guard takes a lock)."""
        if not isinstance(job, Queueable):
            raise TypeError(f"only Job instances can be queued, got {type(job).__name__}")
        self.manager.codec.check_allowed(type(job))

    def _target(self, job: Job) -> tuple[str, str]:
        """Resolve and remember where jobs with this queue/connection go."""
        target = self._targets[job.queue, job.connection] = self.manager._target(job, self.queue, self.connection)
        self.manager.connection_config(target[1])  # unknown connection: fail before anything is stored
        return target

    def _runs_inline(self, conn: str) -> bool:
        inline = self._inline.get(conn)
        if inline is None:
            inline = self._inline[conn] = bool(getattr(self.manager.connection(conn), "runs_inline", False))
        return inline

    def _mark(self, drafts: Sequence[BulkDraft | None]) -> None:
        """Record drafted jobs as pending (not on inline connections, whose jobs run at once)."""
        for conn, members in self._by_connection(drafts).items():
            if not self._runs_inline(conn):
                uuids = [d[0] for d in members]
                self.manager._mark_pending_many(self.manager.connection(conn), uuids)
                self._marked += uuids

    def _unmark(self) -> None:
        """Delete the pending statuses of a bulk that failed before storing anything."""
        if not self._marked:
            return
        try:
            self.manager.statuses.forget_many(self._marked)
        except Exception:  # the bulk's own error matters more; these records expire with their TTL
            log.warning("could not delete %d pending statuses of a failed bulk", len(self._marked), exc_info=True)
