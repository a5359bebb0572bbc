"""Jobs in the `jobs` table: one short transaction per claim, leases renewed by the worker.

How a claim is made depends on the dialect and is chosen once, at construction
(app/Queue/Database/claims.py): SQLite serialises writers, so a plain SELECT + UPDATE;
MySQL/MariaDB `FOR UPDATE SKIP LOCKED` (plain `FOR UPDATE` on older servers) in one
multi-statement round trip, walking the claim index so only passed rows are locked.
A finished job is deleted in the same transaction that claims the next one.
"""
from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence, TypeVar

from sqlalchemy import and_, bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine

from app.Queue.contracts import PushItem, QueueSizes
from app.Queue.Database.claims import (
    ClaimStrategy,
    OneTripClaim,
    OneTripStatements,
    TwoStepClaim,
    one_trip_statements,
    status_key,
    status_read,
    whole,
)
from app.Queue.Database.connection import HeldConnection, Prepared, RawTransaction, run_transaction, translate_errors
from app.Queue.Database import mysql_rows
from app.Queue.Database.mysql_checks import PacketLimit
from app.Queue.Database.purge_nudge import PurgeNudge
from app.Queue.Database.tables import CLAIM_INDEX, cache, jobs
from app.Queue.Support.time import now
from config.database import purge_nudge_enabled

T = TypeVar("T")
log = logging.getLogger("queue.database")


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
# Batch mode (--prefetch): bind names differ from _DELETE_MINE's, as both go in one multi-statement.
_BEGIN = update(jobs).where(jobs.c.id == bindparam("s_id"), jobs.c.reserved_by == bindparam("s_by")).values(
    attempts=jobs.c.attempts + 1, reserved_at=bindparam("s_at"))
_DELETE_MINE = delete(jobs).where(jobs.c.id == bindparam("b_id"), jobs.c.reserved_by == bindparam("b_by"))


def _lease_stamp() -> int:
    """Stamp a reservation in whole seconds, rounded up: columns hold seconds, and rounding
    down would let a lease lapse up to a second early (unsafe for retry_after of 1-2 s).
    Rounded up, a dead worker's job comes back at most a second after retry_after."""
    return math.ceil(now())


def _token(worker_id: str) -> str:
    """A reservation token: the worker, plus a random part that makes each claim's rows its own."""
    return f"{worker_id}:{uuid.uuid4().hex[:12]}"


def _mine(job: DatabaseJob) -> Any:
    """The row of `job` while its reservation token still holds it."""
    return and_(jobs.c.id == job.id, jobs.c.reserved_by == job.token)


def _available_at(delay: float) -> int:
    t = now()
    return math.ceil(t + delay) if delay > 0 else int(t)


@dataclass(frozen=True)
class _HotStatements:
    """The claim loop's statements compiled for one server; `source` is the claim statement they came from."""

    source: Any
    claim: Prepared
    reserve: Prepared
    delete_mine: Prepared
    one_trip: OneTripStatements | None = None  # MySQL/MariaDB: see claims.one_trip_statements


# A prefetched job's status record, read as it starts (see _begin_in), in the shape of claims.STATUS_COLUMN.
_STATUS_BY_KEY = Prepared.raw(f"SELECT CONCAT(expiration, ' ', value) FROM {cache.name} WHERE `key` = %(s_key)s")
_RELEASE_TOKEN = Prepared.raw(f"UPDATE {jobs.name} SET reserved_at = NULL, reserved_by = NULL, attempts = attempts - 1 "
                              "WHERE reserved_by = %(r_by)s")


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
    status_read: tuple[Any, ...] | None = None  # (key, value, expiration) of the status record read with the claim
    connection_name: str = field(init=False)

    def __post_init__(self) -> None:
        self.connection_name = self.driver.connection_name

    def delete(self) -> bool:
        """Delete the finished job while it is still ours."""
        return self.driver.delete_job(self)

    def delete_and_pop(self, queues: Sequence[str], worker_id: str) -> DatabaseJob | None:
        """Delete this finished job and reserve the next one in the same transaction (one commit per job)."""
        deleted, following = self.driver.ack_and_claim(self, queues, worker_id)
        if not deleted:
            log.warning("job on %s finished after its reservation was lost; it may run again", self.queue)
        return following

    def begin(self, finished: DatabaseJob | None = None) -> None:
        """Count this prefetched job's attempt and renew its lease as it starts (batch mode),
        deleting `finished` in the same transaction (one round trip on MySQL/MariaDB and PostgreSQL)."""
        started, acked = self.driver.start_job(self, finished)
        self.attempts += 1
        if not started:
            log.warning("a prefetched job on %s lost its reservation before it started; another worker may run it too",
                        self.queue)
        if finished is not None and not acked:
            log.warning("job on %s finished after its reservation was lost; it may run again", finished.queue)

    def delete_nowait(self) -> None:
        """Delete the finished job (a database cannot pipeline: this waits), warning if it was lost."""
        if not self.delete():
            log.warning("job on %s finished after its reservation was lost; it may run again", self.queue)

    def release(self, delay: float = 0, undo_attempt: bool = False) -> bool:
        """Hand the job back, available after `delay` seconds; `undo_attempt` un-counts this reservation."""
        return self.driver.release_job(self, delay, undo_attempt)

    def renew(self) -> bool:
        """Extend the lease from now (the heartbeat); False when the reservation was lost."""
        return self.driver.renew_job(self)


class DatabaseQueue:
    """QueueDriver over SQLAlchemy Core."""

    release_token_statement = _RELEASE_TOKEN  # undo a claim by its token (OneTripClaim's safety net)

    def __init__(self, connection_name: str, engine: Engine, retry_after: Callable[[str], float]) -> None:
        self.connection_name = connection_name
        self.engine = engine
        self.retry_after = retry_after
        self._url = str(engine.url)
        self._skip_locked: bool | None = None
        self._claim_stmt: Any = None
        self._hot: _HotStatements | None = None
        self._held = HeldConnection(engine)
        self._packets = PacketLimit(engine)  # MySQL: refuse a payload over max_allowed_packet before sending it
        self._batch_cache: dict[Any, Any] = {}  # batch-mode statements, compiled per shape
        self._bulk_insert: str | None = None  # bulk's INSERT in the driver's placeholders (_bulk_sql)
        self.lock_retries = 0  # deadlocks and lock-wait timeouts retried so far (monitoring, tests)
        self.status_prefix: str | None = None  # set by read_statuses_with_claims
        self._claims = self._choose_claims(engine.dialect.name)
        self._purge_nudge = PurgeNudge(engine) if engine.dialect.name == "mysql" and purge_nudge_enabled() else None

    def _choose_claims(self, dialect: str) -> ClaimStrategy:
        """The claim strategy for this dialect, chosen once (see app/Queue/Database/claims.py)."""
        return TwoStepClaim(self) if dialect == "sqlite" else OneTripClaim(self)

    # -- writes -----------------------------------------------------------------------
    def push(self, payload: str, queue: str, delay: float = 0, priority: int = 0) -> None:
        self._packets.check((payload,))
        row = self._row(PushItem(payload, queue, delay, priority))
        self._write(lambda c: c.execute(_INSERT, row))

    def bulk(self, items: Sequence[PushItem]) -> None:
        """Insert many jobs in one transaction, as `push` would each (one time stands for the whole bulk).

        The rows go to the driver as tuples under a statement written once per dialect: SQLAlchemy's
        per-row parameter processing cost more than the driver's own work (SQLite ~9 us a row).
        """
        if not items:
            return
        self._packets.check(i.payload for i in items)
        t = now()
        created = int(t)
        rows = [(queue, payload, priority, math.ceil(t + delay) if delay > 0 else created, created)
                for payload, queue, delay, priority in items]
        self._write(lambda c: self._insert(c, rows))

    def _insert(self, conn: Connection, rows: list[tuple[str, str, int, int, int]]) -> None:
        """INSERT the bulk's rows: on pymysql as multi-row statements spelling each repeated value once
        (app/Queue/Database/mysql_rows.py), elsewhere as the driver's executemany."""
        if mysql_rows.applies(conn):
            mysql_rows.insert_rows(conn, self._bulk_sql(conn).partition(" VALUES ")[0] + " VALUES ",
                                   [(q, p, 0, prio, None, None, avail, created) for q, p, prio, avail, created in rows],
                                   (False, True, False, False, False, False, False, False))
        else:
            conn.exec_driver_sql(self._bulk_sql(conn), rows)

    def _bulk_sql(self, conn: Connection) -> str:
        """The bulk INSERT with the driver's own placeholders (the constant columns written in)."""
        sql = self._bulk_insert
        if sql is None:
            mark = {"qmark": "?", "format": "%s", "pyformat": "%s"}[conn.dialect.paramstyle]
            q = conn.dialect.identifier_preparer.quote
            names = ", ".join(q(c) for c in ("queue", "payload", "attempts", "priority", "reserved_at", "reserved_by",
                                               "available_at", "created_at"))
            sql = self._bulk_insert = (f"INSERT INTO {q(jobs.name)} ({names}) "
                                       f"VALUES ({mark}, {mark}, 0, {mark}, NULL, NULL, {mark}, {mark})")
        return sql

    @staticmethod
    def _row(item: PushItem) -> dict[str, Any]:
        return dict(queue=item.queue, payload=item.payload, attempts=0, priority=int(item.priority),
                    reserved_at=None, reserved_by=None, available_at=_available_at(item.delay), created_at=int(now()))

    def pop(self, queue: str, worker_id: str) -> DatabaseJob | None:
        return self._claim_after(None, [queue], worker_id)[1]

    # -- a reserved job's changes (DatabaseJob delegates here; only while its token still holds the row) ------
    def delete_job(self, job: DatabaseJob) -> bool:
        """Delete a finished job; False when its reservation was lost."""
        return self._write(lambda c: c.execute(_DELETE_MINE, {"b_id": job.id, "b_by": job.token}).rowcount > 0)

    def ack_and_claim(self, job: DatabaseJob, queues: Sequence[str], worker_id: str) -> tuple[bool, DatabaseJob | None]:
        """Delete a finished job and reserve the next one of `queues` in one transaction; (deleted, next job)."""
        return self._claim_after(job, queues, worker_id)

    def start_job(self, job: DatabaseJob, finished: DatabaseJob | None) -> tuple[bool, bool]:
        """Count a prefetched job's attempt as it starts, deleting `finished` in the same transaction; (started, acked)."""
        return self._held.transaction(lambda tx: self._begin_in(tx, job, finished), self._count_retry)

    def release_job(self, job: DatabaseJob, delay: float, undo_attempt: bool) -> bool:
        """Hand a job back, available after `delay` seconds (un-counting its attempt when asked)."""
        values: dict[str, Any] = dict(reserved_at=None, reserved_by=None, available_at=_available_at(delay))
        if undo_attempt:  # released by a rate limit before running: the attempt does not count
            values["attempts"] = jobs.c.attempts - 1
        return self._write(lambda c: c.execute(update(jobs).where(_mine(job)).values(**values)).rowcount > 0)

    def renew_job(self, job: DatabaseJob) -> bool:
        """Extend a job's lease from now."""
        t = _lease_stamp()
        return self._write(lambda c: c.execute(update(jobs).where(_mine(job)).values(reserved_at=t)).rowcount > 0)

    def delete_and_pop(self, job: DatabaseJob, queues: Sequence[str], worker_id: str) -> DatabaseJob | None:
        """Delete the finished `job` and reserve the next job in the same transaction (contracts.AckAndReserve)."""
        return job.delete_and_pop(queues, worker_id)

    def _claim_after(self, finished: DatabaseJob | None, queues: Sequence[str],
                     worker_id: str) -> tuple[bool, DatabaseJob | None]:
        """Delete `finished` (if any, and only while still ours), then reserve the first available job of `queues`."""
        if self._purge_nudge is not None:
            self._purge_nudge.ensure_started()
        return self._claims.claim(finished, queues, worker_id)

    # -- what the claim strategies use ------------------------------------------------------
    def in_transaction(self, fn: Callable[[RawTransaction], T]) -> T:
        """Run `fn` in one transaction on the held DBAPI connection, retrying deadlocks and lock-wait timeouts."""
        return self._held.transaction(fn, self._count_retry)

    def reserved_job(self, job_id: int, payload: str, attempts: int, queue: str, token: str, lease: float,
                     status_read: tuple[Any, ...] | None = None) -> DatabaseJob:
        """The job a claim reserved (with its status record when the claim read it)."""
        return DatabaseJob(self, job_id, payload, attempts, queue, token, lease, status_read)

    def read_statuses_with_claims(self, prefix: str) -> bool:
        """Have each one-round-trip claim also read the claimed job's status record (`prefix` + uuid) from the
        cache table of this same database, for the replay guard; False where claims cannot (SQLite: its read is local)."""
        if not isinstance(self._claims, OneTripClaim):
            return False
        self.status_prefix = prefix
        return True

    @staticmethod
    def new_token(worker_id: str) -> str:
        """A fresh reservation token for `worker_id`."""
        return _token(worker_id)

    @staticmethod
    def lease_stamp() -> int:
        """The reservation time to store, in whole seconds rounded up."""
        return _lease_stamp()

    def claim_params(self, queue: str) -> tuple[float, dict[str, Any]]:
        """The queue's lease and the parameters of a claim SELECT on it, as of now."""
        lease = float(self.retry_after(queue))
        t = int(now())
        return lease, {"queue": queue, "now": t, "expired": t - lease}

    def pop_many(self, queues: Sequence[str], worker_id: str, limit: int, timeout: float = 0) -> list[DatabaseJob]:
        """Reserve up to `limit` jobs of the first queue that has any, in one transaction (batch mode).

        Their attempts are not counted until `begin`; `timeout` is ignored (the worker polls).
        """
        limit = max(1, int(limit))
        if self._purge_nudge is not None:
            self._purge_nudge.ensure_started()
        return self._held.transaction(lambda tx: self._claim_many_in(tx, queues, worker_id, limit), self._count_retry)

    def _claim_many_in(self, tx: RawTransaction, queues: Sequence[str], worker_id: str, limit: int) -> list[DatabaseJob]:
        claim = self._batch_statement(("claim", limit), tx.dialect,
                                      lambda: self._claim_statement(tx.dialect).limit(limit))
        for queue in queues:
            lease, where = self.claim_params(queue)
            (rows,) = tx.run((claim, where))
            if rows:
                token = _token(worker_id)
                ids = {f"r{i}": row[0] for i, row in enumerate(rows)}
                reserve = self._batch_statement(("reserve", len(ids)), tx.dialect, lambda: update(jobs).where(
                    jobs.c.id.in_([bindparam(name) for name in ids])).values(
                    reserved_at=bindparam("b_at"), reserved_by=bindparam("b_by")))
                tx.run((reserve, {**ids, "b_at": _lease_stamp(), "b_by": token}), commit=True)
                return [DatabaseJob(self, job_id, payload, whole(attempts), queue, token, lease)
                        for job_id, payload, attempts in rows]
        return []

    def _begin_in(self, tx: RawTransaction, job: DatabaseJob, finished: DatabaseJob | None) -> tuple[bool, bool]:
        """Delete `finished` (only while ours) and count `job`'s attempt; returns (started, acked).

        Once the replay guard asked (read_statuses_with_claims), the same round trip also reads `job`'s
        status record, as the guard checks it right after this start: no read of its own per job."""
        begin = self._batch_statement(("begin",), tx.dialect, lambda: _BEGIN)
        steps = [(self.hot_statements(tx.dialect).delete_mine, {"b_id": finished.id, "b_by": finished.token})] if finished else []
        steps.append((begin, {"s_id": job.id, "s_by": job.token, "s_at": _lease_stamp()}))
        prefix = self.status_prefix
        if prefix is not None:
            steps.append((_STATUS_BY_KEY, {"s_key": status_key(prefix, job.payload)}))
        counts = tx.run(*steps, commit=True)
        if prefix is not None:
            found = counts.pop()
            job.status_read = status_read(prefix, job.payload, found[0][0] if found else None)
        return counts[-1] > 0, counts[0] > 0 if finished else True

    def _batch_statement(self, key: tuple[Any, ...], dialect: Any, build: Callable[[], Any]) -> Prepared:
        """A batch-mode statement compiled once per shape (claim LIMIT n, n ids to reserve)."""
        cache = self._batch_cache
        if cache.get("dialect") != dialect.name:
            cache.clear()
            cache["dialect"] = dialect.name
        prepared = cache.get(key)
        if prepared is None:
            prepared = cache[key] = Prepared(build(), dialect)
        return prepared

    def hot_statements(self, dialect: Any) -> _HotStatements:
        """The hot-path statements compiled for this server, rebuilt when the claim statement changes."""
        claim = self._claim_statement(dialect)
        if self._hot is None or self._hot.source is not claim:
            prepared_claim = Prepared(claim, dialect)
            self._hot = _HotStatements(claim, prepared_claim, Prepared(_RESERVE, dialect), Prepared(_DELETE_MINE, dialect),
                                       one_trip_statements(prepared_claim, jobs.name) if dialect.name != "sqlite" else None)
        return self._hot

    def _claim_statement(self, dialect: Any) -> Any:
        """The claim SELECT for this server, built once (SKIP LOCKED where the server has it)."""
        if self._claim_stmt is None:
            stmt = _CLAIM
            if dialect.name != "sqlite":
                # The hint pins the plan that walks the index in claim order and locks only
                # the rows it passes; a filesort plan would lock every candidate row.
                stmt = stmt.with_hint(jobs, f"FORCE INDEX ({CLAIM_INDEX})", "mysql").with_hint(
                    jobs, f"FORCE INDEX ({CLAIM_INDEX})", "mariadb")
                stmt = stmt.with_for_update(skip_locked=self._supports_skip_locked(dialect))
            self._claim_stmt = stmt
        return self._claim_stmt

    def clear(self, queue: str) -> int:
        return self._write(lambda c: c.execute(delete(jobs).where(jobs.c.queue == queue)).rowcount)

    def clear_payloads(self, queue: str) -> list[str]:
        """Delete every job of `queue` and return their payloads (queue:clear marks them cancelled)."""
        def run(conn: Connection) -> list[str]:
            rows = conn.execute(select(jobs.c.id, jobs.c.payload).where(jobs.c.queue == queue)).all()
            ids = [r[0] for r in rows]
            for start in range(0, len(ids), 500):  # a job pushed meanwhile is not in `rows`: it stays
                conn.execute(delete(jobs).where(jobs.c.id.in_(ids[start:start + 500])))
            return [r[1] for r in rows]

        return self._write(run)

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
        if self._purge_nudge is not None:
            self._purge_nudge.stop()
        self._held.close()
        self.engine.dispose()

    # -- plumbing -----------------------------------------------------------------------
    def _write(self, fn: Callable[[Connection], T]) -> T:
        """Run `fn` in one transaction, retrying MySQL deadlocks and lock-wait timeouts."""
        return run_transaction(self.engine, fn, self._count_retry)

    def _count_retry(self, _code: int) -> None:
        self.lock_retries += 1

    def _supports_skip_locked(self, dialect: Any) -> bool:
        if self._skip_locked is None:
            self._skip_locked = skip_locked_supported(bool(getattr(dialect, "is_mariadb", False)),
                                                      tuple(dialect.server_version_info or (0,)))
        return self._skip_locked


def skip_locked_supported(is_mariadb: bool, version: tuple[int, ...]) -> bool:
    """Tell whether the server has `FOR UPDATE SKIP LOCKED` (MariaDB 10.6, MySQL 8.0.1)."""
    return version[:2] >= (10, 6) if is_mariadb else version[:3] >= (8, 0, 1)
