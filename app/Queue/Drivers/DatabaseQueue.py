"""Jobs in the `jobs` table: one short transaction per claim, leases renewed by the worker.

SQLite serialises writers (every transaction starts with BEGIN IMMEDIATE), so a claim
is a plain SELECT + UPDATE. MySQL/MariaDB claim with `FOR UPDATE SKIP LOCKED` (plain
`FOR UPDATE` on older servers), walking the claim index so only passed rows are locked.
A finished job is deleted in the same transaction that claims the next one.
"""
from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence, TypeVar

from sqlalchemy import Integer, and_, bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine

from app.Queue.contracts import PushItem, QueueSizes
from app.Queue.database.connection import run_transaction, translate_errors
from app.Queue.database.tables import jobs
from app.Queue.support.time import now

T = TypeVar("T")
log = logging.getLogger("queue.database")

CLAIM_INDEX = "ix_jobs_queue_priority_id"

# Hot-path statements are built once: SQLAlchemy then only binds parameters per call.
_CLAIM = (
    select(jobs.c.id, jobs.c.payload, jobs.c.attempts)
    .where(jobs.c.queue == bindparam("queue"))
    .where(or_(and_(jobs.c.reserved_at.is_(None), jobs.c.available_at <= bindparam("now")),
               jobs.c.reserved_at <= bindparam("expired")))
    .order_by(jobs.c.priority.desc(), jobs.c.id)
    .limit(1)
)
_INSERT = insert(jobs)
_RESERVE = update(jobs).where(jobs.c.id == bindparam("b_id")).values(
    reserved_at=bindparam("b_at"), reserved_by=bindparam("b_by"), attempts=bindparam("b_attempts"))
_BEGIN = update(jobs).where(jobs.c.id == bindparam("b_id"), jobs.c.reserved_by == bindparam("b_by")).values(
    attempts=jobs.c.attempts + 1, reserved_at=bindparam("b_at"))
_RESERVE_MANY = update(jobs).where(jobs.c.id.in_(bindparam("b_ids", expanding=True))).values(
    reserved_at=bindparam("b_at"), reserved_by=bindparam("b_by"))
_DELETE_MINE = delete(jobs).where(jobs.c.id == bindparam("b_id"), jobs.c.reserved_by == bindparam("b_by"))


def _lease_stamp() -> int:
    """Stamp a reservation in whole seconds, rounded up: columns hold seconds, and rounding
    down would let a lease lapse up to a second early (unsafe for retry_after of 1-2 s).
    Rounded up, a dead worker's job comes back at most a second after retry_after."""
    return math.ceil(now())


def _available_at(delay: float) -> int:
    t = now()
    return math.ceil(t + delay) if delay > 0 else int(t)


@dataclass
class DatabaseJob:
    """A row reserved by one worker; `token` (reserved_by) proves the reservation is still ours."""

    driver: DatabaseQueue
    id: int
    payload: str
    attempts: int
    queue: str
    token: str
    retry_after: float
    connection_name: str = field(init=False)

    def __post_init__(self) -> None:
        self.connection_name = self.driver.connection_name

    def _mine(self) -> Any:
        return and_(jobs.c.id == self.id, jobs.c.reserved_by == self.token)

    def delete(self) -> bool:
        return self.driver._write(self._delete_in)

    def _delete_in(self, conn: Connection) -> bool:
        return conn.execute(_DELETE_MINE, {"b_id": self.id, "b_by": self.token}).rowcount > 0

    def delete_and_pop(self, queues: Sequence[str], worker_id: str) -> DatabaseJob | None:
        """Delete this finished job and reserve the next one in the same transaction (one commit per job)."""
        outcome: list[bool] = []

        def both(conn: Connection) -> DatabaseJob | None:
            outcome[:] = [self._delete_in(conn)]
            return self.driver._claim_first(conn, queues, worker_id)

        following = self.driver._write(both)
        if not outcome[0]:
            log.warning("job on %s finished after its reservation was lost; it may run again", self.queue)
        return following

    def begin(self, finished: DatabaseJob | None = None) -> None:
        """Count this prefetched job's attempt and renew its lease as it starts (batch mode),
        deleting `finished` in the same transaction."""
        outcome: list[bool] = []

        def both(conn: Connection) -> None:
            if finished is not None:
                outcome.append(finished._delete_in(conn))
            started = conn.execute(_BEGIN, {"b_id": self.id, "b_by": self.token, "b_at": _lease_stamp()}).rowcount > 0
            outcome.insert(0, started)

        self.driver._write(both)
        self.attempts += 1
        if not outcome[0]:
            log.warning("a prefetched job on %s lost its reservation before it started; another worker may run it too",
                        self.queue)
        if finished is not None and not outcome[1]:
            log.warning("job on %s finished after its reservation was lost; it may run again", finished.queue)

    def delete_nowait(self) -> None:
        """Delete the finished job (a database cannot pipeline: this waits), warning if it was lost."""
        if not self.delete():
            log.warning("job on %s finished after its reservation was lost; it may run again", self.queue)

    def release(self, delay: float = 0, undo_attempt: bool = False) -> bool:
        values: dict[str, Any] = dict(reserved_at=None, reserved_by=None, available_at=_available_at(delay))
        if undo_attempt:  # released by a rate limit before running: the attempt does not count
            values["attempts"] = jobs.c.attempts - 1
        return self.driver._write(lambda c: c.execute(update(jobs).where(self._mine()).values(**values)).rowcount > 0)

    def renew(self) -> bool:
        t = _lease_stamp()
        return self.driver._write(lambda c: c.execute(update(jobs).where(self._mine()).values(reserved_at=t)).rowcount > 0)


class DatabaseQueue:
    """QueueDriver over SQLAlchemy Core."""

    def __init__(self, connection_name: str, engine: Engine, retry_after: Callable[[str], float]) -> None:
        self.connection_name = connection_name
        self.engine = engine
        self.retry_after = retry_after
        self._url = str(engine.url)
        self._skip_locked: bool | None = None
        self._claim_stmt: Any = None
        self._claim_many_stmt: Any = None
        self.lock_retries = 0  # deadlocks and lock-wait timeouts retried so far (monitoring, tests)

    # -- writes -----------------------------------------------------------------------
    def push(self, payload: str, queue: str, delay: float = 0, priority: int = 0) -> None:
        row = self._row(PushItem(payload, queue, delay, priority))
        self._write(lambda c: c.execute(_INSERT, row))

    def bulk(self, items: Sequence[PushItem]) -> None:
        if not items:
            return
        rows = [self._row(i) for i in items]
        self._write(lambda c: c.execute(_INSERT, rows))

    @staticmethod
    def _row(item: PushItem) -> dict[str, Any]:
        return dict(queue=item.queue, payload=item.payload, attempts=0, priority=int(item.priority),
                    reserved_at=None, reserved_by=None, available_at=_available_at(item.delay), created_at=int(now()))

    def pop(self, queue: str, worker_id: str) -> DatabaseJob | None:
        return self._write(lambda c: self._claim_first(c, [queue], worker_id))

    def _claim(self, conn: Connection, queue: str, worker_id: str, lease: float) -> DatabaseJob | None:
        t = int(now())
        row = conn.execute(self._claim_statement(conn), {"queue": queue, "now": t, "expired": t - lease}).first()
        if row is None:
            return None
        token = f"{worker_id}:{uuid.uuid4().hex[:12]}"
        conn.execute(_RESERVE, {"b_id": row.id, "b_at": _lease_stamp(), "b_by": token, "b_attempts": row.attempts + 1})
        return DatabaseJob(self, row.id, row.payload, row.attempts + 1, queue, token, lease)

    def pop_many(self, queues: Sequence[str], worker_id: str, limit: int, timeout: float = 0) -> list[DatabaseJob]:
        """Reserve up to `limit` jobs of the first queue that has any, in one transaction (batch mode).

        Their attempts are not counted until `begin`; `timeout` is ignored (the worker polls).
        """
        return self._write(lambda c: self._claim_many(c, queues, worker_id, max(1, int(limit))))

    def _claim_many(self, conn: Connection, queues: Sequence[str], worker_id: str, limit: int) -> list[DatabaseJob]:
        t = int(now())
        for queue in queues:
            lease = float(self.retry_after(queue))
            rows = conn.execute(self._claim_statement(conn, many=True),
                                {"queue": queue, "now": t, "expired": t - lease, "limit": limit}).all()
            if rows:
                token = f"{worker_id}:{uuid.uuid4().hex[:12]}"
                conn.execute(_RESERVE_MANY, {"b_ids": [r.id for r in rows], "b_at": _lease_stamp(), "b_by": token})
                return [DatabaseJob(self, r.id, r.payload, r.attempts, queue, token, lease) for r in rows]
        return []

    def _claim_first(self, conn: Connection, queues: Sequence[str], worker_id: str) -> DatabaseJob | None:
        """Claim from the first of `queues` that has an available job."""
        for queue in queues:
            job = self._claim(conn, queue, worker_id, float(self.retry_after(queue)))
            if job is not None:
                return job
        return None

    def _claim_statement(self, conn: Connection, many: bool = False) -> Any:
        """The claim SELECT for this server, built once (SKIP LOCKED where the server has it);
        `many` gives the batch form, whose LIMIT is the `limit` parameter."""
        if many:
            if self._claim_many_stmt is None:
                self._claim_many_stmt = self._for_server(conn, _CLAIM.limit(bindparam("limit", type_=Integer, literal_execute=True)))
            return self._claim_many_stmt
        if self._claim_stmt is None:
            self._claim_stmt = self._for_server(conn, _CLAIM)
        return self._claim_stmt

    def _for_server(self, conn: Connection, stmt: Any) -> Any:
        """Add MySQL/MariaDB's index hint and row locking to a claim SELECT."""
        if conn.dialect.name != "sqlite":
            # The hint pins the plan that walks the index in claim order and locks only
            # the rows it passes; a filesort plan would lock every candidate row.
            stmt = stmt.with_hint(jobs, f"FORCE INDEX ({CLAIM_INDEX})", "mysql").with_hint(
                jobs, f"FORCE INDEX ({CLAIM_INDEX})", "mariadb")
            stmt = stmt.with_for_update(skip_locked=self._supports_skip_locked(conn))
        return stmt

    def clear(self, queue: str) -> int:
        return self._write(lambda c: c.execute(delete(jobs).where(jobs.c.queue == queue)).rowcount)

    # -- reads ------------------------------------------------------------------------
    def sizes(self, queue: str) -> QueueSizes:
        t = int(now())
        lease = float(self.retry_after(queue))
        free = jobs.c.reserved_at.is_(None) | (jobs.c.reserved_at <= t - lease)
        query = select(
            func.coalesce(func.sum(case((and_(free, jobs.c.available_at <= t), 1), else_=0)), 0),
            func.coalesce(func.sum(case((and_(free, jobs.c.available_at > t), 1), else_=0)), 0),
            func.coalesce(func.sum(case((~free, 1), else_=0)), 0),
        ).where(jobs.c.queue == queue)
        with translate_errors(self._url), self.engine.connect() as conn:
            pending, delayed, reserved = conn.execute(query).one()
        return QueueSizes(int(pending), int(delayed), int(reserved))

    def queues(self) -> list[str]:
        with translate_errors(self._url), self.engine.connect() as conn:
            return sorted(r[0] for r in conn.execute(select(jobs.c.queue).distinct()))

    def reserved(self, queue: str | None = None) -> list[dict[str, Any]]:
        """List held reservations (who holds what since when), for monitoring."""
        query = select(jobs.c.id, jobs.c.queue, jobs.c.reserved_by, jobs.c.reserved_at, jobs.c.attempts).where(jobs.c.reserved_at.is_not(None))
        if queue:
            query = query.where(jobs.c.queue == queue)
        with translate_errors(self._url), self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def close(self) -> None:
        self.engine.dispose()

    # -- plumbing -----------------------------------------------------------------------
    def _write(self, fn: Callable[[Connection], T]) -> T:
        """Run `fn` in one transaction, retrying MySQL deadlocks and lock-wait timeouts."""
        return run_transaction(self.engine, fn, self._count_retry)

    def _count_retry(self, _code: int) -> None:
        self.lock_retries += 1

    def _supports_skip_locked(self, conn: Connection) -> bool:
        if self._skip_locked is None:
            dialect = conn.dialect
            self._skip_locked = skip_locked_supported(bool(getattr(dialect, "is_mariadb", False)),
                                                      tuple(dialect.server_version_info or (0,)))
        return self._skip_locked


def skip_locked_supported(is_mariadb: bool, version: tuple[int, ...]) -> bool:
    """Tell whether the server has `FOR UPDATE SKIP LOCKED` (MariaDB 10.6, MySQL 8.0.1)."""
    return version[:2] >= (10, 6) if is_mariadb else version[:3] >= (8, 0, 1)
