"""How a database driver reserves the next job: one claim strategy per SQL dialect, chosen once.

- SQLite, `TwoStepClaim`: a plain SELECT, then UPDATE (2 round trips). Every transaction
  starts with BEGIN IMMEDIATE, so writers are serialised and nothing needs locking.
- MySQL / MariaDB, `OneTripClaim`: delete the finished job, `SELECT ... FOR UPDATE SKIP LOCKED`
  keeping the id in a session variable, and UPDATE that row, in one multi-statement (1 round
  trip). Once the replay guard asks (`DatabaseQueue.read_statuses_with_claims`), the same round
  trip also reads the claimed job's status record (STATUS_READ), which the guard would otherwise
  read with a round trip of its own. Further queues take `TwoStepClaim` with the same locking SELECT, and so does every
  claim once the server has returned a row other than the one it kept.
- PostgreSQL, `PostgresClaim` (Drivers/PostgresQueue.py): one data-modifying CTE with
  SKIP LOCKED on an autocommit connection (1 round trip).

The locking clause is `FOR UPDATE SKIP LOCKED` on MySQL ≥ 8.0.1 / MariaDB ≥ 10.6 and plain
`FOR UPDATE` before (DatabaseQueue._claim_statement). Every strategy deletes the finished job
(only while its token still holds the row) in the same transaction as the claim.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol, Sequence

from app.Queue.Database.connection import Prepared, RawTransaction
from app.Queue.Database.tables import cache, jobs

if TYPE_CHECKING:
    from app.Queue.Drivers.DatabaseQueue import DatabaseJob, DatabaseQueue

log = logging.getLogger("queue.database")

CLAIMED_VAR = "@queue_claimed_id"

# The claimed job's status record, read in the claim's round trip for the replay guard (app/Queue/ReplayGuard.py):
# the key is built from the payload's leading `{"uuid":"<uuid>"`; a payload that does not start so gives a key
# the guard does not recognise, and it reads the record itself. A plain read: it locks nothing.
STATUS_READ = Prepared.raw(
    f"SELECT k.sk, c.value, c.expiration FROM (SELECT CONCAT(%(s_prefix)s, "
    f"SUBSTRING_INDEX(SUBSTRING(j.payload, 10, 191), '\"', 1)) AS sk FROM {jobs.name} j WHERE j.id = {CLAIMED_VAR}) AS k "
    f"LEFT JOIN {cache.name} AS c ON c.`key` = k.sk")


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
        one_trip = driver.hot_statements(tx.dialect).one_trip
        if not self.trusted or one_trip is None or not queues:
            return self.steps.claim_in(tx, finished, queues, worker_id)
        sql = driver.hot_statements(tx.dialect)
        steps = [(sql.delete_mine, {"b_id": finished.id, "b_by": finished.token})] if finished is not None else []
        reset, select_into, reserve, check = one_trip
        queue, token = queues[0], driver.new_token(worker_id)
        lease, where = driver.claim_params(queue)
        statements = [*steps, (reset, {}), (select_into, where),
                      (reserve, {"v_at": driver.lease_stamp(), "v_by": token}), (check, {})]
        status_prefix = driver.status_prefix
        if status_prefix is not None:
            statements.append((STATUS_READ, {"s_prefix": status_prefix}))
        out = tx.run(*statements, commit=True)
        status = out.pop() if status_prefix is not None else None
        *done, _, rows, reserved, kept = out
        deleted = done[0] > 0 if steps else True
        if rows and reserved == 1 and kept[0][0] == rows[0][0]:
            job_id, payload, attempts = rows[0]
            return deleted, driver.reserved_job(job_id, payload, attempts + 1, queue, token, lease,
                                                tuple(status[0]) if status else None)
        if rows or reserved:  # the variable did not hold the returned row: undo, and stop using this path
            log.error("claim on %s kept id %s but returned %s; falling back to the two-step claim",
                      queue, kept[0][0], rows[0][0] if rows else None)
            tx.run((driver.release_token_statement, {"r_by": token}), commit=True)
            self.trusted = False
            return deleted, self.steps.claim_in(tx, None, queues, worker_id)[1]
        return deleted, self.steps.claim_in(tx, None, queues[1:], worker_id)[1] if len(queues) > 1 else None


def one_trip_statements(claim: Prepared, table: str) -> tuple[Prepared, Prepared, Prepared, Prepared] | None:
    """The claim as statements that run in one multi-statement: the SELECT keeps the id it locked
    in a session variable, the UPDATE reserves that row, and a last SELECT reads the variable back
    so the caller can check it is the row the claim returned (a server that evaluated the
    assignment for rows it did not return, as a filesort might, is caught, not trusted)."""
    head = f"SELECT {table}.id, "
    if not claim.sql.startswith(head) or claim.order is not None:
        return None  # an unexpected rendering: keep the two-round-trip claim
    reset = Prepared.raw(f"SET {CLAIMED_VAR} = NULL")
    select_into = Prepared.raw(f"SELECT {CLAIMED_VAR} := {table}.id AS id, " + claim.sql[len(head):], claim.defaults)
    # The claim's own conditions again: even a wrong id could only take a row that is free.
    reserve = Prepared.raw(f"UPDATE {table} SET reserved_at = %(v_at)s, reserved_by = %(v_by)s, attempts = attempts + 1 "
                           f"WHERE id = {CLAIMED_VAR} AND queue = %(queue)s AND (reserved_at IS NULL AND "
                           f"available_at <= %(now)s OR reserved_at <= %(expired)s)")
    check = Prepared.raw(f"SELECT {CLAIMED_VAR}")
    return reset, select_into, reserve, check


def whole(attempts: Any) -> int:
    """Read an attempts column; SQLite stores whatever was written, and garbage must not stop a claim."""
    if type(attempts) is int:
        return attempts
    try:
        return max(int(attempts), 0)
    except (TypeError, ValueError, OverflowError):
        return 0
