"""The asyncio entry point with the seeds' names: `from app.Queue.aio import queue, dispatch`.

RouteMQ's documents (seeds 000–003) dispatch from async MQTT handlers::

    job = SendNotificationJob(); job.user_id = 123
    await dispatch(job)
    await queue.push(job, queue="emails", connection="database")
    await queue.later(3600, job); await queue.bulk(jobs); size = await queue.size("default")

Every method here is a coroutine that never blocks the event loop:

- Redis connections go through redis.asyncio (app/Queue/Drivers/AsyncRedisQueue.py): the
  payload is built on the loop (CPU only) and stored with one awaited pipeline.
- Database connections (SQLite, MySQL/MariaDB) and `sync` hop to a worker thread
  (`asyncio.to_thread`) and run the same code as the sync `queue`.
- Pushes that need a store before storing (a ShouldBeUnique job's lock, a queue with
  `define_queue(max_jobs=)`) prepare in a thread too.

The sync API (`app.Queue.QueueManager.queue`, `Job.dispatch`) is unchanged; both store
identical payloads. A QueueFake, when active, records these pushes as it does sync ones.
"""
from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from app.Jobs.JobState import JobState, JobStatus
from app.Queue.contracts import PushItem
from app.Queue.QueueManager import QueueManager, manager
from app.Queue.QueueStats import QueueStats
from app.Queue.Support.time import now, seconds_until
from app.Jobs.Job import Job
from app.Jobs.Contracts import ShouldBeUnique

if TYPE_CHECKING:
    from app.Jobs.Job import Job
    from app.Queue.Drivers.AsyncRedisQueue import AsyncRedisQueue, StatusWrite


class AsyncQueue:
    """Coroutine twins of QueueManager's dispatch methods, named as in seed 000."""

    def __init__(self, resolve: Any = manager) -> None:
        self._resolve = resolve  # a callable, so tests that reset the process manager are followed
        self._lanes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, AsyncRedisQueue]] = weakref.WeakKeyDictionary()

    @property
    def manager(self) -> QueueManager:
        return self._resolve()  # type: ignore[no-any-return]

    # -- dispatching ---------------------------------------------------------------------------
    async def push(self, job: Job, queue: str | None = None, connection: str | None = None) -> str | None:
        """Queue one job; returns its uuid, or None when a guard (unique lock) refused it."""
        return await self._push(job, queue, connection, None)

    async def later(self, delay: Any, job: Job, queue: str | None = None, connection: str | None = None) -> str | None:
        """Queue a job to run after `delay` (seconds, timedelta or datetime)."""
        return await self._push(job, queue, connection, seconds_until(delay))

    async def bulk(self, jobs: Iterable[Job], queue: str | None = None, connection: str | None = None) -> list[str | None]:
        """Queue many jobs; returns their uuids in order. Nothing is stored if one cannot be encoded."""
        qm, jobs = self.manager, list(jobs)
        if self._faked(qm) or not jobs:
            return qm.bulk(jobs, queue, connection)
        groups: dict[str, list[int]] = {}
        for index, job in enumerate(jobs):
            groups.setdefault(self._connection_of(qm, job, queue, connection), []).append(index)
        ids: list[str | None] = [None] * len(jobs)
        for conn, indexes in groups.items():
            subset = [jobs[i] for i in indexes]
            lane = self._lane(qm, conn)
            if lane is None or any(self._prepare_blocks(qm, job, queue, conn) for job in subset):
                stored = await asyncio.to_thread(qm.bulk, subset, queue, conn)
            else:
                stored = await self._bulk_on(lane, qm, subset, queue, conn)
            for i, job_id in zip(indexes, stored):
                ids[i] = job_id
        return ids

    # -- reading -----------------------------------------------------------------------------------
    async def size(self, queue: str | None = None, connection: str | None = None) -> int:
        """Count pending + delayed + reserved jobs (Laravel's size)."""
        qm = self.manager
        conn = qm._queue_connection(queue, connection)
        lane = self._lane(qm, conn)
        if lane is None:
            return await asyncio.to_thread(qm.size, queue, conn)
        name = queue or str(qm.connection_config(conn).get("queue", "default"))
        return (await lane.sizes(name)).total

    async def get_stats(self, queue: str | None = None, connection: str | None = None) -> QueueStats:
        """Pending, delayed, reserved and failed counts of one queue (failed jobs live in the database: a thread)."""
        return await asyncio.to_thread(self.manager.get_stats, queue, connection)

    async def aclose(self) -> None:
        """Close this loop's Redis clients (call at shutdown; a new call reconnects)."""
        lanes = self._lanes.pop(asyncio.get_running_loop(), {})
        for lane in lanes.values():
            await lane.aclose()

    # -- internals ---------------------------------------------------------------------------------
    @staticmethod
    def _faked(qm: QueueManager) -> bool:
        """QueueFake replaces push/later/bulk on the manager instance: let it record."""
        return "push" in qm.__dict__

    @staticmethod
    def _connection_of(qm: QueueManager, job: Job, queue: str | None, connection: str | None) -> str:
        if not isinstance(job, Job):
            raise TypeError(f"only Job instances can be queued, got {type(job).__name__}")
        return qm._target(job, queue, connection)[1]

    @staticmethod
    def _prepare_blocks(qm: QueueManager, job: Job, queue: str | None, connection: str) -> bool:
        """Whether preparing `job` reads a store: a unique lock, or a capacity check."""
        if isinstance(job, ShouldBeUnique):
            return True
        definition = qm.definitions.get(qm._target(job, queue, connection)[0])
        return definition is not None and definition.max_jobs is not None

    def _lane(self, qm: QueueManager, conn: str) -> AsyncRedisQueue | None:
        """This loop's redis.asyncio driver for `conn`, or None when `conn` is not a Redis connection."""
        config = qm.connection_config(conn)
        if config.get("driver", conn) != "redis":
            return None
        # lazy: redis.asyncio only for an async Redis connection
        from app.Queue.Drivers.AsyncRedisQueue import supports

        if not supports(config):  # Cluster and Sentinel: the sync client (which routes and fails over) in a thread
            return None
        lanes = self._lanes.setdefault(asyncio.get_running_loop(), {})
        if conn not in lanes:
            # lazy: redis.asyncio only for an async Redis connection
            from app.Queue.Drivers.AsyncRedisQueue import AsyncRedisQueue

            lanes[conn] = AsyncRedisQueue(config)
        return lanes[conn]

    async def _push(self, job: Job, queue: str | None, connection: str | None, delay: float | None) -> str | None:
        qm = self.manager
        if self._faked(qm):
            return qm.push(job, queue, connection) if delay is None else qm.later(delay, job, queue, connection)
        conn = self._connection_of(qm, job, queue, connection)
        lane = self._lane(qm, conn)
        if lane is None:
            return await asyncio.to_thread(qm._push, job, queue, conn, delay)
        if self._prepare_blocks(qm, job, queue, conn):
            prepared = await asyncio.to_thread(qm._prepare, job, queue, conn, delay, 1)
        else:
            prepared = qm._prepare(job, queue, conn, delay, capacity=1)
        if prepared is None:
            return None
        job_uuid, conn, item = prepared
        job.job_id = job_uuid
        await self._store(lane, qm, conn, [item], [job_uuid])
        qm._queued(job, job_uuid, item.queue, conn)
        return job_uuid

    async def _bulk_on(self, lane: AsyncRedisQueue, qm: QueueManager, jobs: Sequence[Job], queue: str | None,
                       conn: str) -> list[str | None]:
        """Prepare every job first (so a bad one stores nothing), then store them in one pipeline."""
        prepared = [qm._prepare(job, queue, conn, None) for job in jobs]
        kept = [(job, p) for job, p in zip(jobs, prepared) if p is not None]
        await self._store(lane, qm, conn, [p[2] for _, p in kept], [p[0] for _, p in kept])
        for job, (job_uuid, _, item) in kept:
            job.job_id = job_uuid
            qm._queued(job, job_uuid, item.queue, conn)
        return [p[0] if p is not None else None for p in prepared]

    async def _store(self, lane: AsyncRedisQueue, qm: QueueManager, conn: str, items: Sequence[PushItem],
                     uuids: Sequence[str]) -> None:
        """Mark the jobs pending and store them: one pipeline when statuses live on the same Redis."""
        statuses = _status_writes(qm, lane, uuids)
        if statuses is None:  # statuses live elsewhere (the database cache store): write them from a thread
            await asyncio.to_thread(qm._mark_pending_many, qm.connection(conn), list(uuids))
            statuses = []
        await lane.bulk(items, statuses)


def _status_writes(qm: QueueManager, lane: AsyncRedisQueue, uuids: Sequence[str]) -> list[StatusWrite] | None:
    """The pending-status SETs for `uuids` in the Redis cache store's format, or None when that store is not `lane`'s server."""
    repo = qm.statuses
    if not repo.enabled:
        return []
    # lazy: redis.asyncio only for an async Redis connection
    from app.Queue.Cache.RedisStore import RedisStore
    from app.Queue.Drivers.AsyncRedisQueue import server_of

    store = repo.store
    if not isinstance(store, RedisStore) or server_of(store.config) != server_of(lane.config):
        return None
    t = now()
    stored, px = RedisStore._stored(JobStatus("", JobState.PENDING, 0, 0.0, t).to_dict(), repo.ttl, t)
    return [(store.key(repo.key(job_uuid)), stored, px) for job_uuid in uuids]


queue = _queue = AsyncQueue()


async def dispatch(job: Job, queue: str | None = None, connection: str | None = None) -> str | None:
    """Queue `job` from asyncio code (seed 000's `await dispatch(job)`); returns its uuid."""
    return await _queue.push(job, queue, connection)


__all__ = ["AsyncQueue", "dispatch", "queue"]
