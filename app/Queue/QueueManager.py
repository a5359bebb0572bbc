"""Resolve queue connections and push jobs to them.

`queue` (an instance) and the module-level `dispatch`, `define_queue` are what
user code imports. The manager is the project's one registry: tests reset it.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import sys
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence, cast

from app.Jobs.JobState import JobState
from app.Queue import AfterCommit
from app.Queue.BulkDispatch import BulkDispatch
from app.Queue.ConnectionSettings import check_connection
from app.Queue.Connectors import DEFAULT_CONNECTORS, Connector
from app.Queue.contracts import CacheStore, OneCallDispatch, PushItem, QueueDriver
from app.Queue.errors import ConfigurationError, QueueFullError
from app.Queue.events import EventDispatcher, JobQueued
from app.Queue.JobStatuses import StatusRepository
from app.Queue.Payload import PayloadCodec
from app.Queue.QueueDefinition import QueueDefinition
from app.Queue.Queueable import Queueable
from app.Queue.QueueStats import QueueStats
from app.Queue.Support.time import now, seconds_until

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from app.Audit.AuditTrail import AuditTrail
    from app.Bus.BatchRecorder import BatchRecorder
    from app.Bus.ChainRecorder import ChainRecorder
    from app.Horizon.CompletedJobRecorder import CompletedJobRecorder
    from app.Jobs.Job import Job
    from app.Jobs.MetricsCollector import MetricsCollector
    from app.Queue.Cache.Locks import LockStore
    from app.Queue.FailedJobs import DatabaseFailedJobProvider

PushGuard = Callable[["Job", str, str], bool]
RunGate = Callable[["Job", dict[str, Any]], "float | None"]


# A PushItem from a tuple of its fields, without NamedTuple's Python-level __new__ (one per dispatch)
_new_push_item = functools.partial(tuple.__new__, PushItem)


class _OnManager:
    """A method callable on the class too, where it acts on the process's manager (seed style)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.__doc__ = fn.__doc__

    def __get__(self, obj: Any, owner: type) -> Callable[..., Any]:
        target = obj if obj is not None else manager()
        bound: Callable[..., Any] = self.fn.__get__(target, owner)
        return bound


class QueueManager:
    """Lazily builds drivers, stores and the payload codec from config/queue.py."""

    # Set while app.Testing.JobTesting.QueueFake/BusFake is active: batch and chain dispatch record themselves there.
    bus_fake: Any = None

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self._explicit_config = config
        self.events = EventDispatcher()
        self.push_guards: list[PushGuard] = []
        self.reset()

    # -- lifecycle -----------------------------------------------------------------------
    def reset(self, config: Mapping[str, Any] | None = None) -> None:
        """Forget connections, definitions and listeners, and re-read configuration (tests)."""
        for driver in getattr(self, "_connections", {}).values():
            driver.close()
        for engine in getattr(self, "_engines", {}).values():
            engine.dispose()
        self._config: Mapping[str, Any] | None = config or self._explicit_config
        self._connections: dict[str, QueueDriver] = {}
        self._one_call_types: dict[type, bool] = {}
        self._checked_connections: set[str] = set()
        self._engines: dict[str, Engine] = {}
        self._connectors: dict[str, Connector] = dict(DEFAULT_CONNECTORS)
        self.definitions: dict[str, QueueDefinition] = {}
        self.events = EventDispatcher()
        self.push_guards = []
        self.run_gates: list[RunGate] = []  # worker asks each before running a job (rate limits)
        self.worker_permissions: tuple[str, ...] | None = None  # queue:work --permissions
        self._codec: PayloadCodec | None = None
        self._cache: CacheStore | None = None
        self._locks: LockStore | None = None
        self._failed: DatabaseFailedJobProvider | None = None
        self._statuses: StatusRepository | None = None
        # Services the features register at boot (app/Queue/bootstrap.py); typed here, built there.
        self._batches: BatchRecorder | None = None
        self._chains: ChainRecorder | None = None
        self.metrics: MetricsCollector | None = None  # None when metrics are off
        self.tenancy: dict[str, Any] = {}  # app/Tenancy/TenantContext.py: resolver and enter hooks
        self.completed: CompletedJobRecorder | None = None  # None when QUEUE_RECORD_COMPLETED=0
        self.audit_trail: AuditTrail | None = None  # None when the audit trail is off
        self._booted = False
        # config/queue.py already ran for an earlier state of this manager (a reset wiped what it
        # declared), so booting must run it again; a first import, or one still under way (it is
        # what created this manager), runs its definitions and listeners exactly once already.
        loaded = sys.modules.get("config.queue")
        self._config_stale = loaded is not None and not getattr(loaded.__spec__, "_initializing", False)

    @property
    def config(self) -> Mapping[str, Any]:
        config = self._config
        if config is not None and self._booted:  # every dispatch asks several times: the common case first
            return config
        if self._config is None:
            from config.queue import settings

            self._config = settings()
        self._boot()
        return self._config

    def _boot(self) -> None:
        """Load queue definitions from config/queue.py and the built-in listeners, once."""
        if self._booted:
            return
        self._booted = True
        import importlib

        loaded = sys.modules.get("config.queue")
        if loaded is None:
            importlib.import_module("config.queue")
        elif self._config_stale:
            self._config_stale = False
            importlib.reload(loaded)  # re-run define_queue calls and listeners after a reset
        # lazy: the composition root imports every feature, and every feature imports this module
        from app.Queue.bootstrap import register_listeners

        register_listeners(self)

    def add_connector(self, driver: str, connector: Connector) -> None:
        """Register a driver factory by name."""
        self._connectors[driver] = connector

    # -- resolution ----------------------------------------------------------------------
    @property
    def default_connection(self) -> str:
        return str(self.config["default"])

    def connection_config(self, name: str | None = None) -> Mapping[str, Any]:
        name = name or self.default_connection
        connections = self.config["connections"]
        if name not in connections:
            raise ConfigurationError(
                f"unknown queue connection {name!r}; configured: {', '.join(sorted(connections))} (QUEUE_CONNECTION / config/queue.py)"
            )
        config: Mapping[str, Any] = connections[name]
        if name not in self._checked_connections:
            check_connection(name, config)
            self._checked_connections.add(name)
        return config

    def connection(self, name: str | None = None) -> QueueDriver:
        """Get (and cache) the driver for connection `name` (default: QUEUE_CONNECTION)."""
        name = name or self.default_connection
        if name not in self._connections:
            cfg = self.connection_config(name)
            driver = cfg.get("driver", name)
            if driver not in self._connectors:
                raise ConfigurationError(f"connection {name!r} uses unknown driver {driver!r}")
            self._connections[name] = self._connectors[driver](self, name, cfg)
        return self._connections[name]

    def engine(self, url: str | None = None) -> Engine:
        """Get the shared SQLAlchemy engine for `url` (default: config/database.py)."""
        # lazy: SQLAlchemy stays out of a process that never opens a database (idle Redis worker)
        from app.Queue.Database.connection import make_engine
        from config.database import database_url

        url = url or database_url()
        if url not in self._engines:
            self._engines[url] = make_engine(url)
        return self._engines[url]

    @property
    def codec(self) -> PayloadCodec:
        if self._codec is None:
            from config.app import app_key, previous_keys

            self._codec = PayloadCodec(app_key(), self.config["allowed_job_modules"], previous_keys(), self._encrypter())
            self._codec.max_payload_bytes = int(self.config.get("max_payload_bytes") or self._codec.max_payload_bytes)
        return self._codec

    def _encrypter(self) -> Any:
        from importlib.util import find_spec

        if find_spec("cryptography") is None:  # the cipher itself is imported on first use
            return None
        # lazy: the cipher's module needs the optional `cryptography` package (checked just above)
        from app.Jobs.Encrypter import Encrypter
        from config.app import app_key, previous_keys

        return Encrypter(app_key(), previous_keys(), self)

    @property
    def cache(self) -> CacheStore:
        if self._cache is None:
            self._cache = self._make_cache()
        return self._cache

    def _make_cache(self) -> CacheStore:
        store = self.config.get("cache_store", "database")
        if store == "redis":
            # lazy: each store loads its own client library (redis, or SQLAlchemy below)
            from app.Queue.Cache.RedisStore import RedisStore

            return RedisStore.from_config(self.connection_config("redis"))
        from app.Queue.Cache.DatabaseStore import DatabaseStore  # lazy: SQLAlchemy only for the database store

        return DatabaseStore(self.engine())

    @property
    def locks(self) -> LockStore:
        """Owned locks (unique jobs, WithoutOverlapping), kept in the cache's store (CACHE_STORE)."""
        if self._locks is None:
            from app.Queue.Cache.Locks import make_lock_store  # lazy: imports SQLAlchemy

            self._locks = make_lock_store(self)
        return self._locks

    @property
    def failed(self) -> DatabaseFailedJobProvider:
        if self._failed is None:
            from app.Queue.FailedJobs import DatabaseFailedJobProvider  # lazy: imports SQLAlchemy

            if self.config.get("failed", {}).get("driver") == "redis":
                from app.Queue.Redis.RedisFailedJobProvider import RedisFailedJobProvider  # lazy: redis-py only when QUEUE_FAILED_DRIVER=redis

                # the same methods as the SQL provider (contracts.FailedJobProvider)
                self._failed = cast("DatabaseFailedJobProvider", RedisFailedJobProvider.from_config(self.connection_config("redis")))
            else:
                self._failed = DatabaseFailedJobProvider(self.engine())
        return self._failed

    @property
    def statuses(self) -> StatusRepository:
        if self._statuses is None:
            self._statuses = StatusRepository(self.cache, float(self.config.get("status_ttl", 86400)))
        return self._statuses

    @property
    def batches(self) -> BatchRecorder:
        """The batch service (app/Bus/BatchRecorder.py), registered when the manager boots."""
        return cast("BatchRecorder", self._registered("_batches", "batch"))

    @batches.setter
    def batches(self, recorder: BatchRecorder) -> None:
        self._batches = recorder

    @property
    def chains(self) -> ChainRecorder:
        """The chain service (app/Bus/ChainRecorder.py), registered when the manager boots."""
        return cast("ChainRecorder", self._registered("_chains", "chain"))

    @chains.setter
    def chains(self, recorder: ChainRecorder) -> None:
        self._chains = recorder

    def _registered(self, attribute: str, what: str) -> Any:
        """A service app/Queue/bootstrap.py registers: reading it boots the manager; a clear error when none was."""
        if getattr(self, attribute) is None:
            _ = self.config  # boots the manager, which registers the services
        service = getattr(self, attribute)
        if service is None:
            raise ConfigurationError(f"no {what} service is registered (app/Queue/bootstrap.py)")
        return service

    # -- queue definitions ----------------------------------------------------------------
    def define_queue(self, name: str, **options: Any) -> QueueDefinition:
        """Declare settings for one queue (connection, limits, retry_after, encryption)."""
        import dataclasses

        known = [f.name for f in dataclasses.fields(QueueDefinition) if f.name != "name"]
        unknown = sorted(set(options) - set(known))
        if unknown:  # never accept a setting and ignore it
            raise ConfigurationError(f"define_queue({name!r}): unknown option {unknown[0]!r}; known: {', '.join(known)}")
        definition = QueueDefinition(name, **options)
        self.definitions[name] = definition
        return definition

    def max_attempts(self, queue: str, connection: str) -> int | None:
        """Attempts allowed when the job sets none: define_queue's max_attempts, else the connection's."""
        definition = self.definitions.get(queue)
        if definition and definition.max_attempts is not None:
            return definition.max_attempts
        value = self.connection_config(connection).get("max_attempts") if connection in self.config["connections"] else None
        return None if value is None else int(value)

    def retry_after(self, queue: str, default: float) -> float:
        """Lease length for `queue`: its definition's retry_after, else the connection's."""
        definition = self.definitions.get(queue)
        return float(definition.retry_after) if definition and definition.retry_after else default

    # -- pushing -------------------------------------------------------------------------------
    def _target(self, job: Job, queue: str | None, connection: str | None) -> tuple[str, str]:
        queue_name = queue or job.queue
        conn = connection or job.connection
        if conn is None and queue_name and queue_name in self.definitions:
            conn = self.definitions[queue_name].connection
        conn = conn or str(self.config["default"])
        queue_name = queue_name or str(self.connection_config(conn).get("queue", "default"))
        return queue_name, conn

    def _prepare(self, job: Job, queue: str | None, connection: str | None, delay: float | None,
                 capacity: int = 0, target: tuple[str, str] | None = None,
                 created_at: float | None = None) -> tuple[str, str, PushItem] | None:
        """Check, guard and encode one job (created at `created_at`, default now); `target` is its (queue, connection)
        when the caller resolved it already."""
        if not isinstance(job, Queueable):
            raise TypeError(f"only Job instances can be queued, got {type(job).__name__}")
        codec = self._codec or self.codec
        codec.check_allowed(type(job))  # QUEUE_ALLOWED_JOB_MODULES, before a guard takes a unique lock
        queue_name, conn = target or self._target(job, queue, connection)
        self.connection_config(conn)  # unknown connection: fail before anything is stored
        if capacity and queue_name in self.definitions:  # before the guards, so a refused push leaves no unique lock behind
            self._check_capacity(queue_name, conn, capacity)
        for guard in self.push_guards:
            if not guard(job, queue_name, conn):
                return None
        extra = job._payload_extra() if hasattr(job, "_payload_extra") else None
        job_uuid, payload = codec.create(job, queue_name, conn, extra, created_at)
        seconds = job.delay_seconds() if delay is None else delay
        return job_uuid, conn, _new_push_item((payload, queue_name, seconds, int(job.priority or 0)))

    def _check_capacity(self, queue: str, connection: str, adding: int) -> None:
        definition = self.definitions.get(queue)
        if definition and definition.max_jobs is not None:
            current = self.connection(connection).sizes(queue).total
            if current + adding > definition.max_jobs:
                raise QueueFullError(
                    f"queue {queue!r} is full: {current} jobs stored, max_jobs={definition.max_jobs} (define_queue)"
                )

    def _check_bulk_capacity(self, jobs: Sequence[Job], queue: str | None, connection: str | None) -> None:
        if not any(d.max_jobs is not None for d in self.definitions.values()):
            return
        targets: dict[tuple[str, str], int] = {}
        for job in jobs:
            if isinstance(job, Queueable):
                target = self._target(job, queue, connection)
                targets[target] = targets.get(target, 0) + 1
        for (q, conn), count in targets.items():
            self._check_capacity(q, conn, count)

    def push(self, job: Job, queue: str | None = None, connection: str | None = None) -> str | None:
        """Queue one job; returns its uuid, or None when a guard (unique lock) refused it."""
        if AfterCommit._open.get():  # _push's test, spelt out: every dispatch comes here
            return self._push(job, queue, connection, None)
        return self._push_now(job, queue, connection, None)

    def later(self, delay: Any, job: Job, queue: str | None = None, connection: str | None = None) -> str | None:
        """Queue a job to run after `delay` (seconds, timedelta or datetime)."""
        return self._push(job, queue, connection, seconds_until(delay))

    def _push(self, job: Job, queue: str | None, connection: str | None, delay: float | None) -> str | None:
        if AfterCommit._open.get():  # a transaction is open in this thread (checked here: every dispatch asks)
            held = self._hold_for_commit(job, queue, connection, delay)
            if held is not None:
                return held
        return self._push_now(job, queue, connection, delay)

    def _hold_for_commit(self, job: Job, queue: str | None, connection: str | None, delay: float | None) -> str | None:
        """Hold an after-commit job on the open SQLAlchemy Session (app/Queue/AfterCommit.py); None: push now."""
        if not AfterCommit._open.get():  # no transaction open in this thread: the common, cheap case
            return None
        _queue, conn = self._target(job, queue, connection)
        if not AfterCommit.wants_after_commit(job, self.connection_config(conn)):
            return None
        return AfterCommit.hold(self, job, queue, connection, delay)

    def _push_now(self, job: Job, queue: str | None, connection: str | None, delay: float | None) -> str | None:
        try:
            target: tuple[str, str] | None = self._target(job, queue, connection)  # resolved once per dispatch
        except AttributeError:  # not a Job: _prepare says so
            target = None
        one_call = self._one_call_driver(target[1]) if target is not None else None
        writes = one_call.dispatch_writes() if one_call is not None else None
        if writes is not None:
            return self._push_in_one_call(one_call, writes, job, queue, connection, delay, target)  # type: ignore[arg-type]
        at = now()  # the payload's createdAt and the pending status's updated_at: one time, spelt once
        prepared = self._prepare(job, queue, connection, delay, capacity=1, target=target, created_at=at)
        if prepared is None:
            return None
        job_uuid, conn, item = prepared
        driver = self.connection(conn)
        job.job_id = job_uuid
        self._mark_pending(driver, job_uuid, at)
        driver.push(item.payload, item.queue, item.delay, item.priority)
        self._queued(job, job_uuid, item.queue, conn)
        return job_uuid

    def _one_call_driver(self, conn: str) -> OneCallDispatch | None:
        """Connection `conn`'s driver when it stores a whole dispatch in one call (Redis); None otherwise or when unknown."""
        driver = self._connections.get(conn)
        if driver is None:
            if conn not in self.config["connections"]:  # the plain path reports it
                return None
            driver = self.connection(conn)
        able = self._one_call_types.get(type(driver))
        if able is None:
            able = self._one_call_types[type(driver)] = isinstance(driver, OneCallDispatch)
        return driver if able else None  # type: ignore[return-value]  # (typing.cast is a call per dispatch)

    def _push_in_one_call(self, driver: OneCallDispatch, writes: Any, job: Job, queue: str | None, connection: str | None,
                          delay: float | None, target: tuple[str, str] | None = None) -> str | None:
        """Push with the record, pending status and unique lock written by one script call (redis/dispatch_writes.py)."""
        before = job.job_id
        at = now()  # the payload's createdAt and the pending status's updated_at: one time, spelt once
        with writes:
            prepared = self._prepare(job, queue, connection, delay, capacity=1, target=target, created_at=at)
            if prepared is None:
                return None
            job_uuid, conn, item = prepared
            job.job_id = job_uuid
            self._mark_pending(driver, job_uuid, at)  # type: ignore[arg-type]
        if not driver.push_dispatch(item, writes):
            job.job_id = before
            logging.getLogger("queue.unique").info("%s is already queued (its unique lock is held); dispatch ignored",
                                                   type(job).__name__)
            return None
        self._queued(job, job_uuid, item.queue, conn)
        return job_uuid

    def bulk(self, jobs: Iterable[Job], queue: str | None = None, connection: str | None = None) -> list[str | None]:
        """Queue many jobs with as few round trips as each driver allows; returns their uuids (app/Queue/BulkDispatch.py)."""
        return BulkDispatch(self, list(jobs), queue, connection).run()

    def _mark_pending(self, driver: QueueDriver, job_uuid: str, at: float | None = None) -> None:
        if getattr(driver, "runs_inline", False):
            return
        self.statuses.mark(job_uuid, JobState.PENDING, at=at)

    def _mark_pending_many(self, driver: QueueDriver, uuids: Sequence[str]) -> None:
        put_many = getattr(self.statuses, "mark_pending_many", None)
        if put_many is not None:
            put_many(uuids)
            return
        for job_uuid in uuids:
            self._mark_pending(driver, job_uuid)

    def _queued(self, job: Job, job_uuid: str, queue: str, connection: str) -> None:
        listeners = self.events.listeners.get(JobQueued)
        if not listeners:
            return
        trail = self.audit_trail
        if trail is not None and len(listeners) == 1 and listeners[0] == trail.on_queued:
            trail.queued(job, job_uuid, queue, connection)  # the audit trail alone listens: no event object to build
            return
        self.events.dispatch(JobQueued(job, job_uuid, queue, connection))

    # -- reading -------------------------------------------------------------------------------
    def _queue_connection(self, queue: str | None, connection: str | None) -> str:
        """The connection a queue lives on: explicit, else its define_queue connection, else the default."""
        defined = self.definitions[queue].connection if queue in self.definitions else None
        return connection or defined or self.default_connection

    def size(self, queue: str | None = None, connection: str | None = None) -> int:
        """Count pending + delayed + reserved jobs (Laravel's size)."""
        conn = self._queue_connection(queue, connection)
        return self.connection(conn).sizes(queue or str(self.connection_config(conn).get("queue", "default"))).total

    @_OnManager
    def get_stats(self, queue: str | None = None, connection: str | None = None) -> QueueStats:
        """Pending, delayed, reserved and failed counts of one queue."""
        conn = self._queue_connection(queue, connection)
        name = queue or str(self.connection_config(conn).get("queue", "default"))
        sizes = self.connection(conn).sizes(name)
        return QueueStats(name, conn, sizes.pending, sizes.delayed, sizes.reserved, self.failed.count(name))

    # -- async twins -----------------------------------------------------------------------------
    async def apush(self, job: Job, queue: str | None = None, connection: str | None = None) -> str | None:
        return await asyncio.to_thread(self.push, job, queue, connection)

    async def alater(self, delay: Any, job: Job, queue: str | None = None, connection: str | None = None) -> str | None:
        return await asyncio.to_thread(self.later, delay, job, queue, connection)

    async def abulk(self, jobs: Iterable[Job], queue: str | None = None, connection: str | None = None) -> list[str | None]:
        return await asyncio.to_thread(self.bulk, list(jobs), queue, connection)

    async def asize(self, queue: str | None = None, connection: str | None = None) -> int:
        return await asyncio.to_thread(self.size, queue, connection)

    # -- class-level conveniences (seed: QueueManager.rate_limit / QueueManager.get_stats) -------------
    @staticmethod
    def rate_limit(queue: str, max_jobs: int, per_seconds: float) -> QueueDefinition:
        """Limit how many jobs of `queue` start per window, across all workers."""
        current = manager()
        definition = current.definitions.get(queue) or current.define_queue(queue)
        updated = QueueDefinition(**{**definition.__dict__, "rate_limit_enabled": True,
                                     "rate_limit_max": max_jobs, "rate_limit_window": per_seconds})
        current.definitions[queue] = updated
        return updated


_manager = QueueManager()
queue = _manager


def manager() -> QueueManager:
    """Get the process's queue manager."""
    return _manager


def dispatch(job: Job, queue: str | None = None, connection: str | None = None) -> str | None:
    """Queue `job` (seed helper); returns its uuid."""
    return _manager.push(job, queue, connection)


async def adispatch(job: Job, queue: str | None = None, connection: str | None = None) -> str | None:
    """Queue `job` from asyncio code."""
    return await _manager.apush(job, queue, connection)


def define_queue(name: str, **options: Any) -> QueueDefinition:
    """Declare settings for one queue; call it in config/queue.py so every process sees it."""
    return _manager.define_queue(name, **options)
