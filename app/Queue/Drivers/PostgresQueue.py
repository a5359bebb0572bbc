"""Jobs in PostgreSQL's `jobs` table: single-statement claims with SKIP LOCKED, and LISTEN/NOTIFY pickup.

Every hot-path operation is one statement (data-modifying CTEs), so on the worker's
autocommit connection it is one transaction in one round trip: the claim (`UPDATE … FROM
(SELECT … FOR UPDATE SKIP LOCKED) … RETURNING`), the ack of the finished job together with
the next claim, a batch claim (`--prefetch`), a prefetched job's start. A push inserts the
row and `pg_notify`s the queue's channel in the same statement, hence the same transaction:
listeners hear of a job only once it is committed. An idle worker LISTENs and sleeps until a
notification, the earliest `available_at` (or lease expiry) it knows of, or its `--sleep`
(the safety net), whichever comes first. All times come from Python (invariant 3).
"""
from __future__ import annotations

import logging
import math
import time
from typing import Any, Callable, Sequence

from sqlalchemy.engine import Engine

from app.Queue.contracts import PushItem
from app.Queue.Database.claims import ClaimStrategy, status_key, status_read
from app.Queue.Database.postgres_session import PostgresSession, channel
from app.Queue.Drivers.DatabaseQueue import (
    DatabaseJob,
    DatabaseQueue,
    _available_at,
    _lease_stamp,
    _token,
)
from app.Queue.errors import ConnectionUnavailableError
from app.Queue.Support.time import now

log = logging.getLogger("queue.database")

_FREE = ("queue = %(queue)s AND ((reserved_at IS NULL AND available_at <= %(now)s::bigint) "
         "OR reserved_at <= %(expired)s::bigint)")
_PICK = f"SELECT id FROM jobs WHERE {_FREE} ORDER BY priority DESC, id LIMIT 1 FOR UPDATE SKIP LOCKED"
_RESERVE = ("UPDATE jobs SET reserved_at = %(at)s::bigint, reserved_by = %(by)s, attempts = jobs.attempts + 1 "
            "FROM pick WHERE jobs.id = pick.id RETURNING jobs.id, jobs.payload, jobs.attempts")
CLAIM = f"WITH pick AS ({_PICK}) {_RESERVE}"
# The finished job cannot be picked in the same statement (`id <>`): one statement may not both
# delete and update a row.
DELETE_AND_CLAIM = (
    "WITH done AS (DELETE FROM jobs WHERE id = %(d_id)s AND reserved_by = %(d_by)s RETURNING 1), "
    f"pick AS ({_PICK.replace('WHERE ', 'WHERE id <> %(d_id)s AND ', 1)}), "
    f"moved AS ({_RESERVE}) "
    "SELECT (SELECT count(*) FROM done), moved.id, moved.payload, moved.attempts FROM (SELECT 1) AS one "
    "LEFT JOIN moved ON true")
# The same two claims also reading the claimed job's status record for the replay guard, once it asked
# (DatabaseQueue.read_statuses_with_claims; the key is built as in claims.STATUS_COLUMN). The whole statement
# reads one snapshot: the record as committed when the claim started.
_STATUS_OF_MOVED = ("LEFT JOIN LATERAL (SELECT %(s_prefix)s || split_part(substr(moved.payload, 10, 191), '\"', 1) AS sk) "
                    "AS k ON true LEFT JOIN cache AS c ON c.key = k.sk")
CLAIM_WITH_STATUS = (f"WITH pick AS ({_PICK}), moved AS ({_RESERVE}) "
                     f"SELECT moved.id, moved.payload, moved.attempts, k.sk, c.value, c.expiration FROM moved {_STATUS_OF_MOVED}")
DELETE_AND_CLAIM_WITH_STATUS = (
    DELETE_AND_CLAIM.replace("moved.attempts FROM", "moved.attempts, k.sk, c.value, c.expiration FROM")
    + " " + _STATUS_OF_MOVED)
CLAIM_MANY = (
    f"WITH pick AS (SELECT id FROM jobs WHERE {_FREE} ORDER BY priority DESC, id LIMIT %(limit)s "
    "FOR UPDATE SKIP LOCKED) "
    "UPDATE jobs SET reserved_at = %(at)s::bigint, reserved_by = %(by)s FROM pick WHERE jobs.id = pick.id "
    "RETURNING jobs.id, jobs.payload, jobs.attempts, jobs.priority")
BEGIN = (
    "WITH done AS (DELETE FROM jobs WHERE id = %(d_id)s AND reserved_by = %(d_by)s RETURNING 1), "
    "started AS (UPDATE jobs SET attempts = attempts + 1, reserved_at = %(at)s::bigint "
    "WHERE id = %(s_id)s AND reserved_by = %(s_by)s RETURNING 1) "
    "SELECT (SELECT count(*) FROM done), (SELECT count(*) FROM started)")
# The same, also reading the starting job's status record for the replay guard (key from the payload, see
# claims.status_key), in the shape of claims.STATUS_COLUMN: "<expiration> <value>" or NULL.
BEGIN_WITH_STATUS = BEGIN + ", (SELECT c.expiration::text || ' ' || c.value FROM cache AS c WHERE c.key = %(s_key)s)"
PUSH = (
    "WITH pushed AS (INSERT INTO jobs (queue, payload, attempts, priority, available_at, created_at) "
    "VALUES (%(queue)s, %(payload)s, 0, %(priority)s, %(available_at)s::bigint, %(created_at)s::bigint) "
    "RETURNING available_at) SELECT pg_notify(%(channel)s, available_at::text) FROM pushed")
# The arrays travel in binary (%(...)b): psycopg spells a text array by escaping each element's
# quotes with a regular expression, ~34 us per payload (a payload is JSON, full of quotes), where
# the binary form only prefixes each with its length (~1 us).
BULK = (
    "WITH pushed AS (INSERT INTO jobs (queue, payload, attempts, priority, available_at, created_at) "
    "SELECT r.queue, r.payload, 0, r.priority, r.available_at, %(created_at)s::bigint "
    "FROM unnest(%(queues)b::text[], %(payloads)b::text[], %(priorities)b::int[], %(available)b::bigint[]) "
    "AS r(queue, payload, priority, available_at) RETURNING queue, available_at) "
    "SELECT pg_notify(c.channel, min(pushed.available_at)::text) FROM pushed "
    "JOIN unnest(%(channel_queues)s::text[], %(channels)s::text[]) AS c(queue, channel) USING (queue) GROUP BY c.channel")
RELEASE = (
    "WITH back AS (UPDATE jobs SET reserved_at = NULL, reserved_by = NULL, available_at = %(at)s::bigint, "
    "attempts = attempts - %(undo)s WHERE id = %(id)s AND reserved_by = %(by)s RETURNING available_at) "
    "SELECT pg_notify(%(channel)s, available_at::text) FROM back")
DELETE_MINE = "DELETE FROM jobs WHERE id = %(id)s AND reserved_by = %(by)s"
RENEW = "UPDATE jobs SET reserved_at = %(at)s::bigint WHERE id = %(id)s AND reserved_by = %(by)s"
# When the next job of these queues becomes claimable: the earliest available_at of a free
# row, or the earliest lease expiry of a reserved one (each an index range scan).
NEXT_DUE = (
    "SELECT min(w.due) FROM unnest(%(queues)s::text[], %(leases)s::bigint[]) AS q(name, lease), LATERAL ("
    "SELECT (SELECT available_at FROM jobs WHERE queue = q.name AND reserved_at IS NULL "
    "ORDER BY available_at LIMIT 1) AS due UNION ALL "
    "SELECT (SELECT reserved_at FROM jobs WHERE queue = q.name AND reserved_at IS NOT NULL "
    "ORDER BY reserved_at LIMIT 1) + q.lease) AS w")
MIN_WAIT = 0.01  # a due job another worker is claiming right now must not make us spin
POLL_WITHOUT_LISTEN = 0.05  # a thread other than the listening one polls this often
OUTAGE_PAUSE = 0.5  # seconds between attempts while the server cannot be reached


class PostgresJob(DatabaseJob):
    """A reserved row on PostgreSQL; its changes are PostgresQueue's one-statement versions."""

    driver: PostgresQueue


class PostgresClaim:
    """PostgreSQL's claim strategy (app/Queue/Database/claims.py): one CTE statement per queue, the first
    one carrying the finished job's delete."""

    def __init__(self, driver: PostgresQueue) -> None:
        self.driver = driver

    def claim(self, finished: DatabaseJob | None, queues: Sequence[str], worker_id: str) -> tuple[bool, DatabaseJob | None]:
        driver = self.driver
        deleted = True
        prefix = driver.status_prefix
        claim, delete_and_claim = (CLAIM, DELETE_AND_CLAIM) if prefix is None else (CLAIM_WITH_STATUS, DELETE_AND_CLAIM_WITH_STATUS)
        for queue in queues:
            lease, params = driver.claim_params_for(queue, worker_id)
            if prefix is not None:
                params["s_prefix"] = prefix
            if finished is not None:
                (count, *row), = driver.session.run(delete_and_claim, {**params, "d_id": finished.id, "d_by": finished.token})
                deleted, finished = count > 0, None
                rows = [row] if row[0] is not None else []
            else:
                rows = driver.session.run(claim, params)
            if rows:
                job_id, payload, attempts, *status = rows[0]
                return deleted, PostgresJob(driver, job_id, payload, attempts, queue, params["by"], lease,
                                            tuple(status) if status else None)
        if finished is not None:  # no queue to look in: still delete the finished job
            deleted = finished.delete()
        return deleted, None


class PostgresQueue(DatabaseQueue):
    """QueueDriver on PostgreSQL: the database driver's semantics, claims in one round trip, NOTIFY wake-ups."""

    def __init__(self, connection_name: str, engine: Engine, retry_after: Callable[[str], float]) -> None:
        self._session = PostgresSession(engine)
        super().__init__(connection_name, engine, retry_after)

    @property
    def session(self) -> PostgresSession:
        """The autocommit session every statement of this driver runs on."""
        return self._session

    # -- writes -----------------------------------------------------------------------
    def push(self, payload: str, queue: str, delay: float = 0, priority: int = 0) -> None:
        row = self._row(PushItem(payload, queue, delay, priority))
        self._session.run(PUSH, {**row, "channel": channel(queue)})

    def bulk(self, items: Sequence[PushItem]) -> None:
        if not items:
            return
        rows = [self._row(i) for i in items]
        queues = sorted({r["queue"] for r in rows})
        self._session.run(BULK, {
            "queues": [r["queue"] for r in rows], "payloads": [r["payload"] for r in rows],
            "priorities": [r["priority"] for r in rows], "available": [r["available_at"] for r in rows],
            "created_at": rows[0]["created_at"], "channel_queues": queues, "channels": [channel(q) for q in queues]})

    # -- a reserved job's changes: one statement each through the session (rerun on a new connection
    # if the server restarted under it) --------------------------------------------------
    def delete_job(self, job: DatabaseJob) -> bool:
        """Delete the job while it is still ours."""
        return self._session.run(DELETE_MINE, {"id": job.id, "by": job.token}) > 0

    def start_job(self, job: DatabaseJob, finished: DatabaseJob | None) -> tuple[bool, bool]:
        """Count a prefetched job's attempt and renew its lease, deleting `finished` in the same statement
        (which also reads the job's status record once the replay guard asked, as the claims do)."""
        params = {"d_id": finished.id if finished else None, "d_by": finished.token if finished else None,
                  "s_id": job.id, "s_by": job.token, "at": _lease_stamp()}
        prefix = self.status_prefix
        if prefix is None:
            (acked, started), = self._session.run(BEGIN, params)
        else:
            (acked, started, found), = self._session.run(BEGIN_WITH_STATUS,
                                                         {**params, "s_key": status_key(prefix, job.payload)})
            job.status_read = status_read(prefix, job.payload, found)
        return bool(started), bool(acked) if finished is not None else True

    def release_job(self, job: DatabaseJob, delay: float, undo_attempt: bool) -> bool:
        """Hand the job back (notifying its queue's listeners); False when the reservation was lost."""
        rows = self._session.run(RELEASE, {"at": _available_at(delay), "undo": 1 if undo_attempt else 0,
                                           "id": job.id, "by": job.token, "channel": channel(job.queue)})
        return len(rows) > 0

    def renew_job(self, job: DatabaseJob) -> bool:
        """Extend the lease from now (the heartbeat); False when the reservation was lost."""
        return self._session.run(RENEW, {"at": _lease_stamp(), "id": job.id, "by": job.token}) > 0

    # -- claims -----------------------------------------------------------------------
    def _choose_claims(self, dialect: str) -> ClaimStrategy:
        return PostgresClaim(self)

    def read_statuses_with_claims(self, prefix: str) -> bool:
        """Have each claim also read the claimed job's status record (one statement still), for the replay guard."""
        self.status_prefix = prefix
        return True

    def claim_params_for(self, queue: str, worker_id: str) -> tuple[float, dict[str, Any]]:
        """The queue's lease and a claim's parameters as of now (a fresh reservation token)."""
        lease = float(self.retry_after(queue))
        t = int(now())
        return lease, {"queue": queue, "now": t, "expired": math.floor(t - lease), "at": _lease_stamp(),
                       "by": _token(worker_id)}

    def pop_many(self, queues: Sequence[str], worker_id: str, limit: int, timeout: float = 0) -> list[DatabaseJob]:
        """Reserve up to `limit` jobs of the first queue that has any in one statement (batch mode),
        waiting up to `timeout` seconds for a notification when all are empty.

        Their attempts are not counted until `begin`."""
        limit = max(1, int(limit))
        return self._wait_for(queues, timeout, lambda: self._claim_many(queues, worker_id, limit))

    def _claim_many(self, queues: Sequence[str], worker_id: str, limit: int) -> list[DatabaseJob]:
        for queue in queues:
            lease, params = self.claim_params_for(queue, worker_id)
            rows = self._session.run(CLAIM_MANY, {**params, "limit": limit})
            if rows:
                rows.sort(key=lambda r: (-r[3], r[0]))  # RETURNING does not keep the claim's order
                return [PostgresJob(self, job_id, payload, attempts, queue, params["by"], lease)
                        for job_id, payload, attempts, _ in rows]
        return []

    def pop_blocking(self, queues: Sequence[str], worker_id: str, timeout: float) -> DatabaseJob | None:
        """Reserve the next job of the first queue that has one, waiting up to `timeout` seconds:
        LISTEN for dispatches, wake for the earliest due job, poll once per `timeout` as a safety net."""
        jobs = self._wait_for(queues, timeout, lambda: [job] if (job := self._claim_after(None, queues, worker_id)[1]) else [])
        return jobs[0] if jobs else None

    def _wait_for(self, queues: Sequence[str], timeout: float, claim: Callable[[], list[Any]]) -> list[Any]:
        """Claim; while nothing is there and time is left, sleep until a notification or the next due job."""
        session = self._session
        budget = max(0.0, float(timeout))
        session.listen([channel(q) for q in queues])
        while True:
            session.take_notes()
            try:
                jobs = claim()
                if jobs or budget <= 0:
                    return jobs
                if not session.owns():  # only the connection's thread hears notifications: poll
                    pause = min(POLL_WITHOUT_LISTEN, budget)
                    time.sleep(pause)
                    budget -= pause
                    continue
                # Nothing claimable: sleep until the next due job unless a dispatch was heard meanwhile.
                wake = self._next_due(queues) if not session.notified else None
            except ConnectionUnavailableError as exc:
                if budget <= 0:
                    raise
                log.warning("%s; retrying", exc)  # the server restarts: keep the worker, try again shortly
                pause = min(OUTAGE_PAUSE, budget)
                time.sleep(pause)
                budget -= pause
                continue
            wait = budget if wake is None else min(budget, max(MIN_WAIT, wake - now()))
            started = time.monotonic()
            woke = session.wait(wait)
            # A timed-out wait spends its whole length (freezegun may stop the monotonic clock);
            # a signal spends all of it, so the worker sees its stop flag now.
            budget = 0.0 if session.interrupted else budget - (time.monotonic() - started if woke else wait)

    def _next_due(self, queues: Sequence[str]) -> float | None:
        """When the next job of `queues` becomes claimable (unix seconds), None when they are empty."""
        rows = self._session.run(NEXT_DUE, {"queues": list(queues),
                                            "leases": [math.ceil(self.retry_after(q)) for q in queues]})
        due = rows[0][0] if rows else None
        return float(due) if due is not None else None

    def close(self) -> None:
        self._session.close()
        super().close()
