"""PostgreSQL specifics of the database driver: one-statement SKIP LOCKED claims and LISTEN/NOTIFY pickup."""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest

from app.Queue.contracts import PushItem
from app.Queue.Database.postgres_session import MAX_CHANNEL_BYTES, channel
from app.Queue.Drivers.PostgresQueue import CLAIM, DELETE_AND_CLAIM, PostgresQueue
from app.Queue.QueueManager import QueueManager
from tests.servers_pgsql import PostgresServer, use_pgsql

WORKER = "test-worker"


@pytest.fixture
def pg(pgsql_server: PostgresServer, pgsql_database: str, queue_env: QueueManager,
       monkeypatch: pytest.MonkeyPatch) -> QueueManager:
    use_pgsql(pgsql_server, pgsql_database, monkeypatch)
    return queue_env


@pytest.fixture
def driver(pg: QueueManager) -> PostgresQueue:
    d = pg.connection("database")
    assert isinstance(d, PostgresQueue) and d.engine.dialect.name == "postgresql"
    return d


def _other_driver(d: PostgresQueue) -> PostgresQueue:
    """A second driver on its own connections, as another process would have."""
    from app.Queue.Database.connection import make_engine

    return PostgresQueue("database", make_engine(str(d.engine.url.render_as_string(hide_password=False))),
                         d.retry_after)


def _statements(d: PostgresQueue, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every statement the driver's session sends."""
    sent: list[str] = []
    original = d._session.run

    def run(sql: str, params: Any) -> Any:
        sent.append(sql)
        return original(sql, params)

    monkeypatch.setattr(d._session, "run", run)
    return sent


def test_a_claim_is_one_statement_and_a_finished_job_is_acked_in_the_next_claim(driver: PostgresQueue,
                                                                                 monkeypatch: pytest.MonkeyPatch):
    for i in range(2):
        driver.push(f'"{i}"', "default")
    sent = _statements(driver, monkeypatch)
    first = driver.pop("default", WORKER)
    assert first is not None and first.payload == '"0"' and first.attempts == 1
    following = first.delete_and_pop(["default"], WORKER)
    assert following is not None and following.payload == '"1"' and following.attempts == 1
    assert sent == [CLAIM, DELETE_AND_CLAIM]
    sizes = driver.sizes("default")
    assert (sizes.pending, sizes.reserved) == (0, 1)
    assert following.delete_and_pop(["default"], WORKER) is None
    assert driver.sizes("default").total == 0


def test_claims_follow_priority_then_dispatch_order_and_bulk_keeps_order(driver: PostgresQueue):
    driver.bulk([PushItem(f'"{i}"', "default") for i in range(5)])
    driver.push('"urgent"', "default", priority=10)
    order = []
    while (job := driver.pop("default", WORKER)) is not None:
        order.append(job.payload)
        job.delete()
    assert order == ['"urgent"', '"0"', '"1"', '"2"', '"3"', '"4"']


def test_a_claim_held_open_does_not_block_other_workers(driver: PostgresQueue):
    for i in range(3):
        driver.push(f'"{i}"', "default")
    holder = driver.engine.raw_connection()
    try:
        cur = holder.cursor()
        cur.execute("SELECT id FROM jobs ORDER BY id LIMIT 1 FOR UPDATE")  # another worker mid-claim
        held = cur.fetchone()[0]
        other = driver.pop("default", WORKER)
        assert other is not None and other.id != held
    finally:
        holder.rollback()
        holder.close()


def test_concurrent_workers_never_claim_the_same_job(driver: PostgresQueue):
    driver.bulk([PushItem(f'"{i}"', "default") for i in range(400)])
    claimed: list[int] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        mine = _other_driver(driver)  # each thread owns its driver's held connection, as a worker process does
        try:
            job = mine.pop("default", name)
            while job is not None:
                with lock:
                    claimed.append(job.id)
                job = job.delete_and_pop(["default"], name)
        finally:
            mine.close()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(claimed) == 400 and len(set(claimed)) == 400
    assert driver.sizes("default").total == 0


def test_delete_and_pop_after_a_lost_lease_warns_and_leaves_the_new_holder_alone(driver: PostgresQueue,
                                                                                 caplog: pytest.LogCaptureFixture):
    from freezegun import freeze_time

    with freeze_time() as clock:
        driver.push('"x"', "default")
        stale = driver.pop("default", WORKER)
        clock.tick(stale.retry_after + 1)
        fresh = driver.pop("default", "other-worker")
        assert fresh is not None and fresh.attempts == 2
        with caplog.at_level(logging.WARNING, logger="queue.database"):
            assert stale.delete_and_pop(["default"], WORKER) is None
        assert "reservation was lost" in caplog.text
        assert fresh.delete() is True


def _pop_blocking_in_thread(d: PostgresQueue, timeout: float, woke: list[bool]) -> tuple[threading.Thread, list[Any]]:
    """Run pop_blocking on a thread that owns its driver (the worker's main thread), recording how waits ended."""
    got: list[Any] = []
    ready = threading.Event()

    def run() -> None:
        mine = _other_driver(d)
        original = mine._session.wait

        def wait(seconds: float) -> bool:
            ready.set()
            woke.append(original(seconds))
            return woke[-1]

        mine._session.wait = wait  # type: ignore[method-assign]
        try:
            got.append(mine.pop_blocking(["default"], WORKER, timeout))
        finally:
            mine.close()

    thread = threading.Thread(target=run)
    thread.start()
    assert ready.wait(20)
    return thread, got


def test_an_idle_worker_is_woken_by_the_dispatch_notification_not_by_polling(driver: PostgresQueue):
    woke: list[bool] = []
    thread, got = _pop_blocking_in_thread(driver, 60.0, woke)
    time.sleep(0.2)
    driver.push('"wake"', "default")
    thread.join(30)
    assert not thread.is_alive()
    assert got[0] is not None and got[0].payload == '"wake"'
    assert woke == [True]  # one wait, ended by the NOTIFY (a timed-out wait would say False)


def test_an_idle_worker_wakes_for_a_delayed_job_when_it_becomes_due(driver: PostgresQueue):
    driver.push('"later"', "default", delay=1)
    woke: list[bool] = []
    started = time.monotonic()
    thread, got = _pop_blocking_in_thread(driver, 60.0, woke)
    thread.join(30)
    assert got[0] is not None and got[0].payload == '"later"'
    assert time.monotonic() - started < 30  # the due time ended the wait, not the 60 s timeout
    assert False in woke  # it slept until the job's available_at (a timed wait), no notification needed


def test_a_released_job_notifies_idle_workers(driver: PostgresQueue):
    driver.push('"again"', "default")
    job = driver.pop("default", WORKER)
    woke: list[bool] = []
    thread, got = _pop_blocking_in_thread(driver, 60.0, woke)
    time.sleep(0.2)
    assert job.release(0) is True
    thread.join(30)
    assert got[0] is not None and got[0].payload == '"again"'
    assert woke[-1] is True


def test_channel_names_fit_postgres_identifiers():
    assert channel("emails") == "queue:emails"
    long_a, long_b = "a" * 100, "a" * 99 + "b"
    assert len(channel(long_a).encode()) <= MAX_CHANNEL_BYTES and channel(long_a) != channel(long_b)
    assert len(channel("ü" * 40).encode()) <= MAX_CHANNEL_BYTES


def test_queue_names_with_quotes_and_percent_signs_are_listened_to_safely(driver: PostgresQueue):
    name = 'we"ird %s queue'
    driver.push('"q"', name)
    job = driver.pop_blocking([name], WORKER, 1.0)
    assert job is not None and job.payload == '"q"'


def test_bulk_and_status_arrays_sent_in_binary_keep_every_character_from_either_thread(driver: PostgresQueue,
                                                                                      pg: QueueManager):
    """The bulk's arrays go in binary (%(...)b): quotes, backslashes, braces, commas and non-ASCII text
    come back byte for byte, on the session's own thread and through the pool from another thread."""
    odd = ['{"a":"q\\"uo\\\\te, {brace}"}', "ünï ✓ \\N NULL", '"', "", "x" * 5000]
    store = pg.cache
    assert getattr(store, "_postgres", None) is not None  # the cache table on PostgreSQL
    driver.bulk([PushItem(p, "arrays", 0, i) for i, p in enumerate(odd)])
    store.put_all([f"k{i}" for i in range(len(odd))], {"odd": odd}, 60)
    other: list[BaseException] = []

    def from_another_thread() -> None:
        try:
            driver.bulk([PushItem(p, "arrays2", 0, 0) for p in odd])
            store.put_many([(f"t{i}", p, 60) for i, p in enumerate(odd)])
        except BaseException as exc:  # reported on the test's thread
            other.append(exc)

    thread = threading.Thread(target=from_another_thread)
    thread.start()
    thread.join(60)
    assert other == []
    assert sorted(driver.pop("arrays", WORKER).payload for _ in odd) == sorted(odd)  # type: ignore[union-attr]
    assert [driver.pop("arrays2", WORKER).payload for _ in odd] == odd  # type: ignore[union-attr]
    assert [store.get(f"k{i}") for i in range(len(odd))] == [{"odd": odd}] * len(odd)
    assert [store.get(f"t{i}") for i in range(len(odd))] == odd
