"""The job_batches table: atomic counter updates that also decide, in the same transaction, which callbacks fire.

Counters follow Laravel: `pending_jobs` counts members that have not succeeded yet (a failed
member stays pending until a retry succeeds), `failed_jobs` counts members that are failed now.
A batch has no job left when `pending_jobs - failed_jobs == 0`. Each member's outcome is kept
in `job_batch_jobs`, so a member reported twice (lease expired, worker killed before the ack)
is counted once. Every update locks the batch row first (`SELECT ... FOR UPDATE` on MySQL;
SQLite transactions are BEGIN IMMEDIATE), and the callbacks won by an update are recorded in
`options["fired"]` before commit, so exactly one worker runs each of them.
"""
from __future__ import annotations

import json
import uuid as uuid_mod
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from sqlalchemy import and_, delete, select
from sqlalchemy.engine import Connection, Engine

from app.Queue.Database.connection import translate_errors
from app.Queue.Database.tables import job_batch_jobs, job_batches
from app.Queue.errors import QueueError
from app.Queue.Support.time import now, now_int

SUCCEEDED, FAILED = "succeeded", "failed"


@dataclass(frozen=True, slots=True)
class BatchRecord:
    """One row of job_batches, decoded."""

    id: str
    name: str
    total_jobs: int
    pending_jobs: int
    failed_jobs: int
    failed_job_ids: list[str]
    options: dict[str, Any]
    created_at: int
    cancelled_at: int | None = None
    finished_at: int | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """The batch after an update, and the callbacks this update won ("then", "catch", "finally")."""

    batch: BatchRecord
    fire: tuple[str, ...] = field(default=())


def decide(batch: BatchRecord, failed_now: bool) -> tuple[BatchRecord, tuple[str, ...]]:
    """Work out which callbacks become due after an update and mark them fired."""
    fired = set(batch.options.get("fired", ()))
    fire: list[str] = []
    allowed = batch.options.get("allow_failures", 0)
    beyond = allowed is not True and batch.failed_jobs > int(allowed or 0)
    cancelled_at, finished_at = batch.cancelled_at, batch.finished_at
    if failed_now and beyond and "catch" not in fired:
        fire.append("catch")
        cancelled_at = cancelled_at or now_int()
    if batch.pending_jobs - batch.failed_jobs <= 0:
        finished_at = finished_at or now_int()
        if not beyond and cancelled_at is None and "then" not in fired:
            fire.append("then")
        if "finally" not in fired:
            fire.append("finally")
    options = {**batch.options, "fired": sorted(fired | set(fire))} if fire else batch.options
    return replace(batch, options=options, cancelled_at=cancelled_at, finished_at=finished_at), tuple(fire)


class DatabaseBatchRepository:
    """BatchRepository over SQL."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._url = str(engine.url)

    # -- create and read -------------------------------------------------------------------
    def store(self, name: str, total: int, options: dict[str, Any], batch_id: str | None = None) -> BatchRecord:
        """Insert a new batch with `total` pending jobs (under `batch_id` when the caller signed options for it)."""
        record = BatchRecord(batch_id or str(uuid_mod.uuid4()), name, total, total, 0, [], options, now_int())
        with translate_errors(self._url), self.engine.begin() as conn:
            conn.execute(job_batches.insert().values(**self._row(record)))
        return record

    def find(self, batch_id: str) -> BatchRecord | None:
        with translate_errors(self._url), self.engine.connect() as conn:
            row = conn.execute(select(job_batches).where(job_batches.c.id == str(batch_id))).first()
        return self._record(row) if row else None

    def recent(self, limit: int = 10) -> list[BatchRecord]:
        """List the newest batches first."""
        query = select(job_batches).order_by(job_batches.c.created_at.desc(), job_batches.c.id).limit(limit)
        with translate_errors(self._url), self.engine.connect() as conn:
            return [self._record(r) for r in conn.execute(query)]

    # -- atomic updates --------------------------------------------------------------------
    def record_success(self, batch_id: str, member: str, job_uuid: str) -> Outcome | None:
        """Count a member as succeeded (once); a previously failed member leaves the failed list."""

        def change(conn: Connection, batch: BatchRecord) -> tuple[BatchRecord, bool]:
            previous = self._member(conn, batch.id, member)
            if previous is not None and previous[0] == SUCCEEDED:
                return batch, False
            self._put_member(conn, batch.id, member, SUCCEEDED, job_uuid, previous is not None)
            if previous is None:
                return replace(batch, pending_jobs=batch.pending_jobs - 1), False
            ids = [i for i in batch.failed_job_ids if i != previous[1]]
            return replace(batch, pending_jobs=batch.pending_jobs - 1, failed_jobs=batch.failed_jobs - 1,
                           failed_job_ids=ids), False

        return self._update_atomic(batch_id, change)

    def record_failure(self, batch_id: str, member: str, job_uuid: str) -> Outcome | None:
        """Count a member as failed (once) and remember the failed job's uuid for retry-batch."""

        def change(conn: Connection, batch: BatchRecord) -> tuple[BatchRecord, bool]:
            previous = self._member(conn, batch.id, member)
            if previous is not None and previous[0] == SUCCEEDED:
                return batch, False
            self._put_member(conn, batch.id, member, FAILED, job_uuid, previous is not None)
            if previous is not None:  # failed again after a retry: keep the newest failed uuid
                ids = [job_uuid if i == previous[1] else i for i in batch.failed_job_ids]
                return replace(batch, failed_job_ids=ids), False
            return replace(batch, failed_jobs=batch.failed_jobs + 1,
                           failed_job_ids=[*batch.failed_job_ids, job_uuid]), True

        return self._update_atomic(batch_id, change)

    def evaluate(self, batch_id: str) -> Outcome | None:
        """Decide callbacks without counting anything (an empty batch finishes at once)."""
        return self._update_atomic(batch_id, lambda conn, batch: (batch, False))

    def increment_total(self, batch_id: str, amount: int) -> BatchRecord:
        """Add `amount` jobs to a batch that has not finished."""

        def change(conn: Connection, batch: BatchRecord) -> tuple[BatchRecord, bool]:
            if batch.finished_at is not None:
                raise QueueError(f"batch {batch.id} has finished; jobs cannot be added to it")
            return replace(batch, total_jobs=batch.total_jobs + amount, pending_jobs=batch.pending_jobs + amount), False

        outcome = self._update_atomic(batch_id, change)
        if outcome is None:
            raise QueueError(f"no batch matches the ID [{batch_id}]")
        return outcome.batch

    def cancel(self, batch_id: str) -> None:
        """Mark the batch cancelled; its remaining BatchableJobs skip their work."""
        self._update_atomic(batch_id, lambda conn, b: (replace(b, cancelled_at=b.cancelled_at or now_int()), False))

    def reopen(self, batch_id: str) -> None:
        """Lift the cancellation before the batch's failed jobs are retried, so they do not skip."""
        self._update_atomic(batch_id, lambda conn, b: (replace(b, cancelled_at=None), False))

    def _update_atomic(self, batch_id: str, change: Callable[[Connection, BatchRecord], tuple[BatchRecord, bool]]) -> Outcome | None:
        """Lock the batch row, apply `change`, decide callbacks and write back, in one transaction."""
        with translate_errors(self._url), self.engine.begin() as conn:
            row = conn.execute(select(job_batches).where(job_batches.c.id == str(batch_id)).with_for_update()).first()
            if row is None:
                return None
            before = self._record(row)
            changed, failed_now = change(conn, before)
            after, fire = decide(changed, failed_now)
            if after != before:
                values = self._row(after)
                del values["id"]
                conn.execute(job_batches.update().where(job_batches.c.id == before.id).values(**values))
            return Outcome(after, fire)

    # -- pruning ---------------------------------------------------------------------------
    def prune(self, finished_hours: float | None, unfinished_hours: float | None, cancelled_hours: float | None) -> int:
        """Delete finished (and optionally unfinished or cancelled) batches older than the given hours."""
        t = now()
        clauses = []
        if finished_hours is not None:
            clauses.append(and_(job_batches.c.finished_at.is_not(None), job_batches.c.finished_at <= t - finished_hours * 3600))
        if unfinished_hours is not None:
            clauses.append(and_(job_batches.c.finished_at.is_(None), job_batches.c.created_at <= t - unfinished_hours * 3600))
        if cancelled_hours is not None:
            clauses.append(and_(job_batches.c.cancelled_at.is_not(None), job_batches.c.created_at <= t - cancelled_hours * 3600))
        deleted = 0
        with translate_errors(self._url), self.engine.begin() as conn:
            for clause in clauses:
                ids = [r[0] for r in conn.execute(select(job_batches.c.id).where(clause))]
                for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
                    conn.execute(delete(job_batch_jobs).where(job_batch_jobs.c.batch_id.in_(chunk)))
                    deleted += conn.execute(delete(job_batches).where(job_batches.c.id.in_(chunk))).rowcount
        return deleted

    # -- rows ------------------------------------------------------------------------------
    @staticmethod
    def _member(conn: Connection, batch_id: str, member: str) -> tuple[str, str] | None:
        row = conn.execute(select(job_batch_jobs.c.outcome, job_batch_jobs.c.job_uuid).where(
            job_batch_jobs.c.batch_id == batch_id, job_batch_jobs.c.member == member)).first()
        return (row.outcome, row.job_uuid) if row else None

    @staticmethod
    def _put_member(conn: Connection, batch_id: str, member: str, outcome: str, job_uuid: str, exists: bool) -> None:
        if exists:
            conn.execute(job_batch_jobs.update().where(job_batch_jobs.c.batch_id == batch_id, job_batch_jobs.c.member == member)
                         .values(outcome=outcome, job_uuid=job_uuid))
        else:
            conn.execute(job_batch_jobs.insert().values(batch_id=batch_id, member=member, outcome=outcome, job_uuid=job_uuid))

    @staticmethod
    def _row(record: BatchRecord) -> dict[str, Any]:
        return dict(id=record.id, name=record.name, total_jobs=record.total_jobs, pending_jobs=record.pending_jobs,
                    failed_jobs=record.failed_jobs, failed_job_ids=json.dumps(record.failed_job_ids),
                    options=json.dumps(record.options, separators=(",", ":")), cancelled_at=record.cancelled_at,
                    created_at=record.created_at, finished_at=record.finished_at)

    @staticmethod
    def _record(row: Any) -> BatchRecord:
        return BatchRecord(row.id, row.name, int(row.total_jobs), int(row.pending_jobs), int(row.failed_jobs),
                           list(json.loads(row.failed_job_ids or "[]")), dict(json.loads(row.options or "{}")),
                           int(row.created_at), row.cancelled_at, row.finished_at)
