"""How a database driver reserves the next job: one claim strategy per SQL dialect, chosen once.

- SQLite, `TwoStepClaim`: a plain SELECT, then UPDATE (2 round trips). Every transaction
  starts with BEGIN IMMEDIATE, so writers are serialised and nothing needs locking.
- MySQL / MariaDB, `OneTripClaim`: delete the finished job, `SELECT ... FOR UPDATE SKIP LOCKED`
  keeping the id in a session variable, and UPDATE that row, in one multi-statement (1 round
  trip, one result set: the UPDATE reports the id it reserved in its OK packet through
  LAST_INSERT_ID(id), so no SELECT reads the variable back). Once the replay guard asks
  (`DatabaseQueue.read_statuses_with_claims`), the claim's SELECT also brings the claimed job's
  status record (a scalar subquery, STATUS_COLUMN), which the guard would otherwise read with a
  round trip of its own. Further queues take `TwoStepClaim` with the same locking SELECT, and so
  does every claim once the server has reserved a row other than the one it returned.
- PostgreSQL, `PostgresClaim` (Drivers/PostgresQueue.py): one data-modifying CTE with
  SKIP LOCKED on an autocommit connection (1 round trip).

The locking clause is `FOR UPDATE SKIP LOCKED` on MySQL ≥ 8.0.1 / MariaDB ≥ 10.6 and plain
`FOR UPDATE` before (DatabaseQueue._claim_statement). Every strategy deletes the finished job
(only while its token still holds the row) in the same transaction as the claim.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, Sequence

from app.Queue.Database.connection import Prepared, RawTransaction
from app.Queue.Database.tables import cache, jobs

if TYPE_CHECKING:
    from app.Queue.Drivers.DatabaseQueue import DatabaseJob, DatabaseQueue

log = logging.getLogger("queue.database")

CLAIMED_VAR = "@queue_claimed_id"

# The claimed job's status record as one more column of the claim's SELECT, for the replay guard
# (app/Queue/ReplayGuard.py): "<expiration> <value>", or NULL when there is none. The key is built from the
# payload's leading `{"uuid":"<uuid>"` (status_key says how, in Python); a payload that does not start so gives
# a key the guard does not recognise, and it reads the record itself. A scalar subquery is a plain read even
# inside a locking SELECT (MariaDB and MySQL lock a subquery's rows only under its own locking clause): it
# neither locks the record nor skips it while a writer holds it, as a joined table under SKIP LOCKED would.
STATUS_COLUMN = (f"(SELECT CONCAT(c.expiration, ' ', c.value) FROM {cache.name} AS c WHERE c.`key` = "
                 f"CONCAT(%(s_prefix)s, SUBSTRING_INDEX(SUBSTRING({jobs.name}.payload, 10, 191), '\"', 1))) AS status")
UUID_AT, UUID_SPAN = 9, 191  # where STATUS_COLUMN looks for the uuid: SUBSTRING(payload, 10, 191)


def status_key(prefix: str, payload: str) -> str:
    """The status key STATUS_COLUMN looked up for `payload` (SUBSTRING_INDEX(SUBSTRING(...), '"', 1) in Python);
    a payload that is not text (untrusted store) names the bare prefix, a key the replay guard does not take."""
    if not isinstance(payload, str):
        return prefix
    return prefix + payload[UUID_AT:UUID_AT + UUID_SPAN].split('"', 1)[0]


def status_read(prefix: str, payload: str, column: Any) -> tuple[Any, ...]:
    """(key, value, expiration) of the status record a claim read, as the replay guard takes it (value None: none)."""
    if column is None:
        return status_key(prefix, payload), None, None
    if isinstance(column, (bytes, bytearray)):
        column = bytes(column).decode("utf-8", "replace")
    expiration, _, value = str(column).partition(" ")
    return status_key(prefix, payload), value, expiration


class ClaimStrategy(Protocol):
    """Delete a finished job (if any, only while still ours) and reserve the first available job of `queues`."""

    def claim(self, finished: DatabaseJob | None, queues: Sequence[str], worker_id: str) -> tuple[bool, DatabaseJob | None]:
        """Returns (whether `finished` was deleted, the reserved job or None)."""


class TwoStepClaim:
    """SELECT the first free row of each queue in turn (locking it where the dialect locks), then UPDATE it."""

    def __init__(self, driver: DatabaseQueue) -> None:
        self.driver = driver

    def claim(self, finished: DatabaseJob | None, queues: Sequence[str], worker_id: str) -> tuple[bool, DatabaseJob | None]:
        return self.driver.in_transaction(lambda tx: self.claim_in(tx, finished, queues, worker_id))

    def claim_in(self, tx: RawTransaction, finished: DatabaseJob | None, queues: Sequence[str],
                 worker_id: str) -> tuple[bool, DatabaseJob | None]:
        """The claim inside an open transaction."""
        driver = self.driver
        sql = driver.hot_statements(tx.dialect)
        steps = [(sql.delete_mine, {"b_id": finished.id, "b_by": finished.token})] if finished is not None else []
        deleted = True
        for queue in queues:
            lease, where = driver.claim_params(queue)
            *done, rows = tx.run(*steps, (sql.claim, where))
            if steps:
                deleted, steps = done[0] > 0, []
            if rows:
                job_id, payload, attempts = rows[0]
                attempts = whole(attempts)
                token = driver.new_token(worker_id)
                tx.run((sql.reserve, {"b_id": job_id, "b_at": driver.lease_stamp(), "b_by": token,
                                      "b_attempts": attempts + 1}), commit=True)
                return deleted, driver.reserved_job(job_id, payload, attempts + 1, queue, token, lease)
        if steps:  # no queue to look in: still delete the finished job
            deleted = tx.run(*steps)[0] > 0
        return deleted, None


class OneTripClaim:
    """MySQL/MariaDB: the first queue's delete, claim and reservation in one multi-statement round trip."""

    def __init__(self, driver: DatabaseQueue) -> None:
        self.driver = driver
        self.steps = TwoStepClaim(driver)
        self.trusted = True  # False once the server returned a row other than the one it kept: two steps from then on

    def claim(self, finished: DatabaseJob | None, queues: Sequence[str], worker_id: str) -> tuple[bool, DatabaseJob | None]:
        return self.driver.in_transaction(lambda tx: self._claim_in(tx, finished, queues, worker_id))

    def _claim_in(self, tx: RawTransaction, finished: DatabaseJob | None, queues: Sequence[str],
                  worker_id: str) -> tuple[bool, DatabaseJob | None]:
        driver = self.driver
        sql = driver.hot_statements(tx.dialect)
        one_trip = sql.one_trip
        if not self.trusted or one_trip is None or not queues:
            return self.steps.claim_in(tx, finished, queues, worker_id)
        steps = [(sql.delete_mine, {"b_id": finished.id, "b_by": finished.token})] if finished is not None else []
        queue, token = queues[0], driver.new_token(worker_id)
        lease, where = driver.claim_params(queue)
        prefix = driver.status_prefix
        if prefix is None:
            select_into = (one_trip.select_into, where)
        else:
            select_into = (one_trip.select_into_with_status, {**where, "s_prefix": prefix})
        out = tx.run(*steps, (one_trip.reset, {}), select_into,
                     (one_trip.reserve, {"v_at": driver.lease_stamp(), "v_by": token}), commit=True)
        *done, _, rows, (reserved, kept) = out
        deleted = done[0] > 0 if steps else True
        if rows and reserved == 1 and kept == rows[0][0]:
            job_id, payload, attempts = rows[0][:3]
            return deleted, driver.reserved_job(job_id, payload, attempts + 1, queue, token, lease,
                                                status_read(prefix, payload, rows[0][3]) if prefix is not None else None)
        if rows or reserved:  # the variable did not hold the returned row: undo, and stop using this path
            log.error("claim on %s reserved id %s but returned %s; falling back to the two-step claim",
                      queue, kept if reserved else None, rows[0][0] if rows else None)
            tx.run((driver.release_token_statement, {"r_by": token}), commit=True)
            self.trusted = False
            return deleted, self.steps.claim_in(tx, None, queues, worker_id)[1]
        return deleted, self.steps.claim_in(tx, None, queues[1:], worker_id)[1] if len(queues) > 1 else None


@dataclass(frozen=True)
class OneTripStatements:
    """The statements of a one-round-trip claim (see one_trip_statements)."""

    reset: Prepared  # clear the session variable, so a SELECT that finds nothing leaves it NULL
    select_into: Prepared  # the claim SELECT, keeping the id of the row it returns in the variable
    select_into_with_status: Prepared  # the same, with the claimed job's status record as a fourth column
    reserve: Prepared  # UPDATE the variable's row; (rowcount, the id it reserved)


def one_trip_statements(claim: Prepared, table: str) -> OneTripStatements | None:
    """The claim as statements that run in one multi-statement: the SELECT keeps the id it locked
    in a session variable, and the UPDATE reserves that row and reports its id through
    LAST_INSERT_ID(id) in its OK packet, so the caller can check it is the row the claim returned
    (a server that evaluated the assignment for rows it did not return, as a filesort might, is
    caught, not trusted)."""
    head = f"SELECT {table}.id, "
    columns, found, rest = claim.sql.partition(" \nFROM ")
    if not claim.sql.startswith(head) or not found or claim.order is not None:
        return None  # an unexpected rendering: keep the two-round-trip claim
    select_into = f"SELECT {CLAIMED_VAR} := {table}.id AS id, " + columns[len(head):]
    # The claim's own conditions again: even a wrong id could only take a row that is free. LAST_INSERT_ID(id)
    # comes last, so it is evaluated for the one row the UPDATE takes (found by primary key).
    reserve = Prepared.raw(f"UPDATE {table} SET reserved_at = %(v_at)s, reserved_by = %(v_by)s, attempts = attempts + 1 "
                           f"WHERE id = {CLAIMED_VAR} AND queue = %(queue)s AND (reserved_at IS NULL AND "
                           f"available_at <= %(now)s OR reserved_at <= %(expired)s) AND LAST_INSERT_ID(id)",
                           reports_id=True)
    return OneTripStatements(Prepared.raw(f"SET {CLAIMED_VAR} = NULL"),
                             Prepared.raw(select_into + found + rest, claim.defaults),
                             Prepared.raw(f"{select_into}, {STATUS_COLUMN}{found}{rest}", claim.defaults),
                             reserve)


def whole(attempts: Any) -> int:
    """Read an attempts column; SQLite stores whatever was written, and garbage must not stop a claim."""
    if type(attempts) is int:
        return attempts
    try:
        return max(int(attempts), 0)
    except (TypeError, ValueError, OverflowError):
        return 0
