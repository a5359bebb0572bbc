"""MySQL/MariaDB specifics of the database driver: SKIP LOCKED claims, the claim plan, lock retries."""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest

from app.Queue.contracts import PushItem
from app.Queue.Drivers.DatabaseQueue import CLAIM_INDEX, DatabaseQueue, skip_locked_supported
from app.Queue.QueueManager import QueueManager
from app.Queue.Support.time import now
from tests.servers_mariadb import MariaDBServer
from tests.support import wait_until

WORKER = "test-worker"


@pytest.fixture
def driver(maria: QueueManager) -> DatabaseQueue:
    d = maria.connection("database")
    assert isinstance(d, DatabaseQueue) and d.engine.dialect.name == "mysql"
    return d


def _claim_params(d: DatabaseQueue, queue: str = "default") -> dict[str, Any]:
    t = int(now())
    return {"queue": queue, "now": t, "expired": t - float(d.retry_after(queue))}


def _waiting_claims(server: MariaDBServer) -> int:
    """Count claim queries that have been running (that is, waiting for a row lock) for 0.3 s."""
    # INNODB_TRX.trx_state does not always say LOCK WAIT on MariaDB 10.11; the processlist does not lie.
    return int(server.fetch_one("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                                "WHERE INFO LIKE '%%FOR UPDATE%%' AND TIME_MS > 300 AND ID <> CONNECTION_ID()")[0])


@pytest.mark.parametrize("is_mariadb, version, expected", [
    (True, (10, 5, 22), False), (True, (10, 6, 0), True), (True, (11, 4, 2), True),
    (False, (5, 7, 44), False), (False, (8, 0, 0), False), (False, (8, 0, 1), True), (False, (8, 4, 0), True),
])
def test_skip_locked_is_used_only_where_the_server_has_it(is_mariadb, version, expected):
    assert skip_locked_supported(is_mariadb, version) is expected


def test_claim_on_this_server_uses_skip_locked_and_the_claim_index(driver: DatabaseQueue):
    with driver.engine.connect() as conn:
        sql = str(driver._claim_statement(conn.dialect).compile(dialect=conn.dialect))
    assert "FOR UPDATE SKIP LOCKED" in sql and f"FORCE INDEX ({CLAIM_INDEX})" in sql


def test_claim_walks_the_index_in_order_and_locks_only_rows_it_passes(driver: DatabaseQueue, mariadb_server: MariaDBServer,
                                                                       mariadb_database: str):
    driver.bulk([PushItem('"x"', "default", delay=60 if i % 3 == 0 else 0, priority=i % 2) for i in range(3000)])
    driver.bulk([PushItem('"y"', "other") for _ in range(1000)])
    with driver.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE TABLE jobs")
        stmt = driver._claim_statement(conn.dialect)
        compiled = stmt.compile(dialect=conn.dialect)
        plan = conn.exec_driver_sql(f"EXPLAIN {compiled}", {**compiled.params, **_claim_params(driver)}).mappings().one()
        assert plan["key"] == CLAIM_INDEX and "filesort" not in (plan["Extra"] or "").lower()
        conn.commit()
        with conn.begin():  # hold a claim open and ask InnoDB how many rows it locked
            assert conn.execute(stmt, _claim_params(driver)).first() is not None
            watcher = mariadb_server.connect(mariadb_database)
            with watcher.cursor() as cur:
                cur.execute("SELECT MAX(trx_rows_locked) FROM information_schema.INNODB_TRX")
                (rows_locked,) = cur.fetchone()
            watcher.close()
    assert rows_locked <= 3


@pytest.mark.timeout(30)
def test_a_claim_held_open_does_not_block_other_workers(driver: DatabaseQueue):
    for i in range(3):
        driver.push(f'"{i}"', "default")
    with driver.engine.connect() as conn, conn.begin():
        held = conn.execute(driver._claim_statement(conn.dialect), _claim_params(driver)).first()
        started = time.monotonic()
        other = driver.pop("default", WORKER)
        assert time.monotonic() - started < 25  # a plain FOR UPDATE would wait innodb_lock_wait_timeout (50 s) here
        assert other is not None and other.id != held.id


def test_concurrent_workers_never_claim_the_same_job(driver: DatabaseQueue):
    driver.bulk([PushItem(f'"{i}"', "default") for i in range(400)])
    claimed: list[int] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        while (job := driver.pop("default", name)) is not None:
            with lock:
                claimed.append(job.id)
            job.delete()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(claimed) == 400 and len(set(claimed)) == 400


def test_delete_and_pop_deletes_this_job_and_reserves_the_next_in_one_step(driver: DatabaseQueue):
    for i in range(2):
        driver.push(f'"{i}"', "default")
    first = driver.pop("default", WORKER)
    following = first.delete_and_pop(["empty", "default"], WORKER)
    assert following is not None and following.payload == '"1"' and following.attempts == 1
    sizes = driver.sizes("default")
    assert (sizes.pending, sizes.reserved) == (0, 1)
    assert following.delete_and_pop(["default"], WORKER) is None
    assert driver.sizes("default").total == 0


def test_delete_and_pop_after_a_lost_lease_warns_and_leaves_the_new_holder_alone(driver: DatabaseQueue,
                                                                                 caplog: pytest.LogCaptureFixture):
    from freezegun import freeze_time

    with freeze_time() as clock:
        driver.push('"x"', "default")
        stale = driver.pop("default", WORKER)
        clock.tick(stale.retry_after + 1)
        fresh = driver.pop("default", "other-worker")
        with caplog.at_level(logging.WARNING, logger="queue.database"):
            assert stale.delete_and_pop(["default"], WORKER) is None
        assert "reservation was lost" in caplog.text
        assert fresh.delete() is True


@pytest.mark.timeout(60)
def test_deadlock_in_a_claim_is_retried_inside_the_driver(driver: DatabaseQueue, mariadb_server: MariaDBServer,
                                                           mariadb_database: str):
    """Force a real InnoDB deadlock between a finishing worker and another transaction."""
    driver._skip_locked, driver._claim_stmt = False, None  # plain FOR UPDATE waits, so it can deadlock
    driver.push('"mine"', "default")
    driver.push('"next"', "default")
    driver.bulk([PushItem('"ballast"', "ballast") for _ in range(50)])
    mine = driver.pop("default", WORKER)
    other = mariadb_server.connect(mariadb_database, autocommit=False)
    result: dict[str, Any] = {}
    with other.cursor() as cur:
        cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")  # lock only the rows named
        cur.execute("SELECT id FROM jobs WHERE payload = %s", ('"next"',))
        (next_id,) = cur.fetchone()
        # The other transaction is heavier (51 rows), so InnoDB picks the driver's as the victim.
        cur.execute("UPDATE jobs SET created_at = created_at + 1 WHERE id >= %s", (next_id,))
        worker = threading.Thread(target=lambda: result.update(next=mine.delete_and_pop(["default"], WORKER)))
        worker.start()
        assert wait_until(lambda: _waiting_claims(mariadb_server) > 0, 10)  # the worker now waits for "next"
        cur.execute("SELECT id FROM jobs WHERE id = %s FOR UPDATE", (mine.id,))  # closes the cycle
        other.commit()
    other.close()
    worker.join(30)
    assert driver.lock_retries >= 1
    assert result["next"] is not None and result["next"].payload == '"next"'
    assert driver.sizes("default").total == 1


@pytest.mark.timeout(60)
def test_lock_wait_timeout_is_retried_inside_the_driver(driver: DatabaseQueue, mariadb_server: MariaDBServer,
                                                         mariadb_database: str):
    driver.push('"x"', "default")
    job = driver.pop("default", WORKER)
    driver.engine.dispose()
    admin = mariadb_server.connect()
    with admin.cursor() as cur:
        cur.execute("SET GLOBAL innodb_lock_wait_timeout = 1")  # new pooled connections wait 1 s
    holder = mariadb_server.connect(mariadb_database, autocommit=False)
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT id FROM jobs WHERE id = %s FOR UPDATE", (job.id,))
        # Let go of the row only after the driver hit a lock-wait timeout and started over.
        releaser = threading.Thread(target=lambda: (wait_until(lambda: driver.lock_retries > 0, 20), holder.commit()))
        releaser.start()
        assert job.delete() is True
        releaser.join(30)
    finally:
        with admin.cursor() as cur:
            cur.execute("SET GLOBAL innodb_lock_wait_timeout = 50")
        admin.close()
        holder.close()
        driver.engine.dispose()
    assert driver.lock_retries >= 1


def test_worker_stopping_after_max_jobs_hands_back_the_prefetched_job_unused(maria: QueueManager, witness):
    from app.Queue.Worker import Worker
    from app.Queue.WorkerOptions import WorkerOptions
    from tests.conftest import read_lines
    from tests.fixtures.jobs import RecordJob

    first, second = (RecordJob(str(witness), tag).dispatch() for tag in ("a", "b"))
    assert Worker(maria, WorkerOptions(memory=0, max_jobs=1, sleep=0.01)).daemon("database", ["default"]) == 0
    assert read_lines(witness) == [f"a {first} 1"]
    left = maria.connection("database").pop("default", WORKER)
    assert left is not None and left.attempts == 1  # the reservation made ahead of time was un-counted
    assert second in left.payload


def test_claim_is_one_round_trip_and_checks_the_row_it_reserved(driver: DatabaseQueue, caplog: pytest.LogCaptureFixture):
    """The one-round-trip claim checks the id its UPDATE reserved against the row it returned; a mismatch
    is undone, and the driver falls back."""
    import dataclasses

    from app.Queue.Database.claims import CLAIMED_VAR
    from app.Queue.Database.connection import Prepared

    for payload in ('"first"', '"second"', '"third"'):
        driver.push(payload, "default")
    job = driver.pop("default", WORKER)
    assert job is not None and job.payload == '"first"' and driver._hot is not None and driver._hot.one_trip is not None
    one_trip = driver._hot.one_trip
    # Keep the id of the row after the one returned, as a server that assigned the variable for a row it did
    # not return would: the UPDATE then reserves "third" while the SELECT returned "second".
    lying = one_trip.select_into.sql.replace(f"{CLAIMED_VAR} := jobs.id AS id", "jobs.id AS id", 1).replace(
        " \nFROM ", f", {CLAIMED_VAR} := jobs.id + 1 AS kept \nFROM ", 1)
    assert lying.count(CLAIMED_VAR) == 1
    driver._hot = dataclasses.replace(driver._hot, one_trip=dataclasses.replace(
        one_trip, select_into=Prepared.raw(lying, one_trip.select_into.defaults)))
    with caplog.at_level(logging.ERROR):
        following = job.delete_and_pop(["default"], WORKER)
    assert "falling back to the two-step claim" in caplog.text
    assert following is not None and following.payload == '"second"' and following.attempts == 1
    assert driver._claims.trusted is False  # OneTripClaim: two steps from now on
    assert [(r["id"], r["attempts"]) for r in driver.reserved("default")] == [(following.id, 1)]  # "third" was handed back
    assert following.delete() is True


def _status_row(mariadb_server: MariaDBServer, database: str, key: str, value: str) -> Any:
    """Write a status record straight into the cache table; returns the open connection (autocommit off)."""
    conn = mariadb_server.connect(database, autocommit=False)
    with conn.cursor() as cur:
        cur.execute("REPLACE INTO cache (`key`, value, expiration) VALUES (%s, %s, %s)", (key, value, 2**40))
    conn.commit()
    return conn


@pytest.mark.timeout(30)
def test_the_claim_brings_the_status_record_even_while_a_writer_holds_it(driver: DatabaseQueue,
                                                                        mariadb_server: MariaDBServer,
                                                                        mariadb_database: str):
    """The record rides in the claim's locking SELECT as a plain read: a writer's lock on it neither hides it
    (a joined table under SKIP LOCKED would be skipped, so a replay would look fresh) nor makes the claim wait."""
    driver.read_statuses_with_claims("status:")
    driver.push('{"uuid":"u-1","job":"x"}', "default")
    writer = _status_row(mariadb_server, mariadb_database, "status:u-1", '{"state": "completed"}')
    try:
        with writer.cursor() as cur:
            cur.execute("SELECT value FROM cache WHERE `key` = 'status:u-1' FOR UPDATE")  # held until rollback
        job = driver.pop("default", WORKER)  # would wait innodb_lock_wait_timeout (50 s) if the subquery locked
        assert job is not None and job.status_read == ("status:u-1", '{"state": "completed"}', str(2**40))
        with writer.cursor() as cur:  # the writer still holds its lock and can change the record
            assert cur.execute("UPDATE cache SET value = '{}' WHERE `key` = 'status:u-1'") == 1
    finally:
        writer.rollback()
        writer.close()


@pytest.mark.parametrize("prefix, uuid", [("status:", "ünï-cødé-✓"), ("", "x" * 250)],
                         ids=["non-ascii", "longer-than-the-key-span"])
def test_the_status_key_read_with_the_claim_is_the_one_python_names(driver: DatabaseQueue, mariadb_server: MariaDBServer,
                                                                    mariadb_database: str, prefix: str, uuid: str):
    """claims.status_key spells the key exactly as the SQL column looked it up (characters, not bytes; cut at 191)."""
    from app.Queue.Database.claims import status_key

    payload = '{"uuid":"' + uuid + '","job":"x"}'
    key = status_key(prefix, payload)
    assert key == prefix + uuid[:191]
    _status_row(mariadb_server, mariadb_database, key, '"found"').close()
    driver.read_statuses_with_claims(prefix)
    driver.push(payload, "default")
    job = driver.pop("default", WORKER)
    assert job is not None and job.status_read == (key, '"found"', str(2**40))
    driver.push('{"uuid":"none","job":"x"}', "default")
    following = job.delete_and_pop(["default"], WORKER)
    assert following is not None and following.status_read == (prefix + "none", None, None)


def test_a_prefetched_job_brings_its_status_record_as_it_starts(driver: DatabaseQueue, mariadb_server: MariaDBServer,
                                                                mariadb_database: str):
    """Under --prefetch the statement that starts a job (and acks the one before) also reads its status record,
    at the moment the replay guard checks it, not when the batch was reserved."""
    driver.read_statuses_with_claims("status:")
    for uuid in ("p-1", "p-2"):
        driver.push('{"uuid":"' + uuid + '","job":"x"}', "default")
    first, second = driver.pop_many(["default"], WORKER, 2)
    assert first.status_read is None and second.status_read is None  # nothing read with the batch
    _status_row(mariadb_server, mariadb_database, "status:p-1", '"written after the batch"').close()
    first.begin()
    assert first.status_read == ("status:p-1", '"written after the batch"', str(2**40)) and first.attempts == 1
    second.begin(first)
    assert second.status_read == ("status:p-2", None, None) and second.attempts == 1
    assert [r["id"] for r in driver.reserved("default")] == [second.id]  # the first was acked in the same trip
