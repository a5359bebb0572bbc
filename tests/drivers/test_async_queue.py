"""app.Queue.aio (seed 000's async API) on every driver: stores what the sync API stores, and awaits without blocking."""
from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from app.Jobs.Job import Job
from app.Jobs.JobState import JobState
from app.Queue import aio
from tests.async_support import run  # noqa: F401  (re-exported for the sample tests)
from app.Queue.errors import SerializationError
from tests.conftest import read_lines
from tests.core_helpers import keep_signal_handlers, work  # noqa: F401  (fixture)
from tests.drivers.conftest import BACKEND_SETUP, Backend
from tests.fixtures.jobs import RecordJob


def test_push_later_bulk_size_store_jobs_a_worker_runs(backend: Backend, witness: Path) -> None:
    async def scenario() -> tuple[Any, ...]:
        first = await aio.dispatch(RecordJob(str(witness), "dispatched"))
        second = await aio.queue.push(RecordJob(str(witness), "pushed"), queue="emails")
        later = await aio.queue.later(3600, RecordJob(str(witness), "later"))
        bulk = await aio.queue.bulk([RecordJob(str(witness), f"bulk{i}") for i in range(3)])
        sizes = (await aio.queue.size("default"), await aio.queue.size("emails"))
        stats = await aio.queue.get_stats("default")
        return first, second, later, bulk, sizes, stats

    first, second, later, bulk, sizes, stats = run(scenario)
    assert len({first, second, later, *bulk}) == 6 and all(isinstance(i, str) for i in (first, second, later, *bulk))
    assert sizes == (5, 1)  # default: dispatched, later (delayed), three bulk; emails: one
    assert (stats.pending, stats.delayed) == (4, 1)
    assert Job.status(first).state == JobState.PENDING
    work(backend.manager, ["default", "emails"], connection=backend.connection)
    ran = sorted(line.split()[0] for line in read_lines(witness))
    assert ran == ["bulk0", "bulk1", "bulk2", "dispatched", "pushed"]
    assert Job.status(first).state == JobState.COMPLETED
    assert backend.manager.size("default", backend.connection) == 1  # the delayed job waits


def test_bulk_keeps_order_and_stores_nothing_when_one_job_cannot_be_encoded(backend: Backend, witness: Path) -> None:
    bad = RecordJob(str(witness), "bad")
    bad.handle_with = object()  # not JSON-serialisable

    with pytest.raises(SerializationError, match="handle_with"):
        run(lambda: aio.queue.bulk([RecordJob(str(witness), "a"), bad]))
    assert backend.manager.size("default", backend.connection) == 0
    ids = run(lambda: aio.queue.bulk([RecordJob(str(witness), t).on_queue(q) for t, q in (("a", "one"), ("b", "two"), ("c", "one"))]))
    work(backend.manager, ["one", "two"], connection=backend.connection)
    by_tag = {line.split()[0]: line.split()[1] for line in read_lines(witness)}
    assert [by_tag["a"], by_tag["b"], by_tag["c"]] == ids


def test_sync_api_is_unchanged_beside_the_async_one(backend: Backend, witness: Path) -> None:
    from app.Queue.QueueManager import queue as sync_queue

    sync_id = sync_queue.push(RecordJob(str(witness), "sync"))
    method_id = RecordJob.dispatch(str(witness), "method")
    async_id = run(lambda: aio.queue.push(RecordJob(str(witness), "async")))
    assert isinstance(sync_id, str) and isinstance(method_id, str) and isinstance(async_id, str)
    assert sync_queue.size("default") == 3
    work(backend.manager, connection=backend.connection)
    assert sorted(line.split()[0] for line in read_lines(witness)) == ["async", "method", "sync"]


def test_queue_fake_records_async_pushes(backend: Backend, witness: Path) -> None:
    from app.Testing.JobTesting import QueueFake

    with QueueFake() as fake:
        run(lambda: aio.dispatch(RecordJob(str(witness), "faked")))
        fake.assert_pushed(RecordJob)
    assert backend.manager.size("default", backend.connection) == 0


@contextlib.contextmanager
def writes_held(backend: Backend, seconds: float) -> Iterator[None]:
    """Make the store accept no write for `seconds`: CLIENT PAUSE on Redis, a held write lock on SQL."""
    if backend.name == "redis":
        backend.driver().client.execute_command("CLIENT", "PAUSE", int(seconds * 1000), "WRITE")
        yield
        return
    engine = backend.manager.engine()
    from app.Queue.Database.tables import jobs

    locked = threading.Event()

    def hold() -> None:
        if engine.dialect.name == "sqlite":  # a plain connection: the engine's own begins transactions itself
            conn = sqlite3.connect(str(engine.url.database), isolation_level=None)
            conn.execute("BEGIN IMMEDIATE")
            locked.set()
            time.sleep(seconds)
            conn.execute("ROLLBACK")
            conn.close()
            return
        if engine.dialect.name == "postgresql":  # EXCLUSIVE blocks writers (INSERT), not readers
            with engine.begin() as held:
                held.exec_driver_sql(f"LOCK TABLE {jobs.name} IN EXCLUSIVE MODE")
                locked.set()
                time.sleep(seconds)
            return
        with engine.connect() as held:
            held.exec_driver_sql(f"LOCK TABLES {jobs.name} WRITE")
            locked.set()
            time.sleep(seconds)
            held.exec_driver_sql("UNLOCK TABLES")

    holder = threading.Thread(target=hold)
    holder.start()
    locked.wait(10)
    try:
        yield
    finally:
        holder.join()


def test_the_loop_keeps_running_while_a_push_waits_for_the_store(backend: Backend, witness: Path) -> None:
    run(lambda: aio.queue.size())  # connect (and create the engine) before the store is held

    async def scenario() -> tuple[int, str | None]:
        ticks = 0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        ticks = 0
        job_id = await aio.queue.push(RecordJob(str(witness), "held"))
        done.set()
        await task
        return ticks, job_id

    with writes_held(backend, 0.5):
        ticks, job_id = run(scenario)
    # A push that blocked the loop would let the ticker run at most once; awaited, it runs throughout.
    assert ticks >= 5, f"event loop ticked only {ticks} times while the push waited"
    assert job_id is not None and backend.manager.size("default", backend.connection) == 1


@pytest.fixture
def redis_backend(request: pytest.FixtureRequest, queue_env: Any, monkeypatch: pytest.MonkeyPatch) -> Backend:
    """Redis only: SQL drivers hop to a thread (the loop test above covers them)."""
    return BACKEND_SETUP["redis"](request, queue_env, monkeypatch)


def test_redis_pushes_go_through_redis_asyncio(redis_backend: Backend) -> None:
    import redis.asyncio

    backend = redis_backend

    async def scenario() -> tuple[Any, str | None, int]:
        job_id = await aio.queue.push(RecordJob("/dev/null"))
        return aio.queue._lane(backend.manager, "redis"), job_id, await aio.queue.size()

    lane, job_id, size = run(scenario)
    assert isinstance(lane.client, redis.asyncio.Redis)
    assert "redis" not in backend.manager._connections  # the sync driver was never built
    assert size == 1 and Job.status(job_id).state == JobState.PENDING  # the status went in the same pipeline


def test_enable_redis_false_makes_async_redis_use_one_clear_error(redis_backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = redis_backend
    from app.Queue.errors import ConfigurationError
    from config import env as env_mod

    monkeypatch.setenv("ENABLE_REDIS", "false")
    env_mod.reload()
    backend.manager.reset()
    with pytest.raises(ConfigurationError, match="ENABLE_REDIS=false"):
        run(lambda: aio.queue.push(RecordJob("/dev/null"), connection="redis"))


def test_many_concurrent_pushes_share_a_bounded_pool(redis_backend: Backend, witness: Path) -> None:
    from app.Queue.Drivers.AsyncRedisQueue import POOL_SIZE

    server = redis_backend.driver().client
    before = int(server.info("clients")["connected_clients"])

    async def scenario() -> tuple[list[str | None], int]:
        ids = await asyncio.gather(*(aio.queue.push(RecordJob(str(witness), f"j{i}")) for i in range(300)))
        return list(ids), int(server.info("clients")["connected_clients"])

    ids, during = run(scenario)
    assert len(set(ids)) == 300 and redis_backend.manager.size("default", "redis") == 300
    assert during - before <= POOL_SIZE
