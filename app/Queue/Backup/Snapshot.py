"""Read what an export holds: jobs of a connection, failed jobs and batches, as plain records.

Consistency while workers run: each source is read atomically (one SELECT of the jobs table;
one MULTI/EXEC per Redis queue; the batch rows and their member outcomes in one transaction,
REPEATABLE READ on MySQL/MariaDB and the write lock on SQLite), and in the order jobs, then
failed jobs, then batches. A job that moves while the export runs is therefore found in
its old place, its new place, or both — never in neither: a job finished during the export may
run again after import (at-least-once), and its batch counts it once (member outcomes are
exported with the batch). A job found both queued and failed is exported as failed only.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from sqlalchemy import or_, select

from app.Queue.Database.connection import translate_errors
from app.Queue.Database.tables import job_batch_jobs, job_batches, jobs
from app.Queue.Payload import peek_uuid
from app.Queue.Redis.RedisRecord import RedisRecord
from app.Queue.Support.time import now
from app.Queue.errors import ConfigurationError

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager

PayloadFilter = Callable[[str], bool]


def base_queue(name: str) -> str:
    """The queue a tenant sub-queue (`queue@tenant`, app/Tenancy/FairQueues) belongs to."""
    return name.split("@", 1)[0]


def job_record(queue: str, payload: str, attempts: int, priority: int, available_at: float, state: str) -> dict[str, Any]:
    """The export record of one job (the payload is kept byte for byte: its own signature still holds)."""
    return {"type": "job", "queue": base_queue(queue), "payload": payload, "attempts": int(attempts), "priority": int(priority),
            "available_at": float(available_at), "state": state}


def read_jobs(manager: QueueManager, connection: str, queues: Sequence[str]) -> list[dict[str, Any]]:
    """Read every pending, delayed and reserved job of `connection` (all queues when `queues` is empty)."""
    driver = manager.connection(connection)
    driver = getattr(driver, "inner", driver)  # a fair-queue wrapper (app/Tenancy): read its per-tenant sub-queues
    kind = manager.connection_config(connection).get("driver", connection)
    if kind == "redis":
        stored = driver.queues()
        return list(_redis_jobs(driver, [q for q in stored if not queues or base_queue(q) in queues]))
    if kind == "database":
        return _database_jobs(driver, queues)
    raise ConfigurationError(f"connection {connection!r} (driver {kind!r}) stores no jobs to export")


def _database_jobs(driver: Any, queues: Sequence[str]) -> list[dict[str, Any]]:
    query = select(jobs.c.queue, jobs.c.payload, jobs.c.attempts, jobs.c.priority, jobs.c.available_at,
                   jobs.c.reserved_at).order_by(jobs.c.id)
    if queues:
        query = query.where(or_(jobs.c.queue.in_(list(queues)),
                                *[jobs.c.queue.startswith(f"{q}@", autoescape=True) for q in queues]))
    t = now()
    with translate_errors(str(driver.engine.url)), driver.engine.connect() as conn:
        rows = conn.execute(query).all()
    out = []
    for row in rows:
        if row.reserved_at is not None:
            state, at = "reserved", t
        else:
            state, at = ("delayed" if row.available_at > t else "pending"), row.available_at
        out.append(job_record(row.queue, row.payload, row.attempts, row.priority, at, state))
    return out


def _redis_jobs(driver: Any, queues: Sequence[str]) -> Iterator[dict[str, Any]]:
    from app.Queue.Redis.errors import translate_errors as redis_errors  # lazy: redis-py only for Redis exports

    t = now()
    for queue in queues:
        keys = driver.keys(queue)
        with redis_errors(driver.config):
            pipe = driver.client.pipeline(transaction=True)  # MULTI/EXEC: one atomic view of the queue
            pipe.zrange(keys.pending, 0, -1)
            pipe.zrange(keys.delayed, 0, -1, withscores=True)
            pipe.zrange(keys.reserved, 0, -1)
            pending, delayed, reserved = pipe.execute()
        for record in pending:
            yield _from_record(queue, record, t, "pending")
        for record, at in delayed:
            yield _from_record(queue, record, float(at), "delayed" if float(at) > t else "pending")
        for record in reserved:
            yield _from_record(queue, record, t, "reserved")


def _from_record(queue: str, record: str, at: float, state: str) -> dict[str, Any]:
    fields = RedisRecord.read(record)
    return job_record(queue, fields.payload, fields.attempts, fields.priority_value, at, state)


def read_failed(manager: QueueManager, queues: Sequence[str]) -> list[dict[str, Any]]:
    """Read failed-job records, oldest first (all queues when `queues` is empty)."""
    records = [r for r in reversed(manager.failed.all()) if not queues or r.queue in queues]
    return [{"type": "failed", "uuid": r.uuid, "connection": r.connection, "queue": r.queue, "payload": r.payload,
             "exception": r.exception, "failed_at": float(r.failed_at)} for r in records]


def read_batches(manager: QueueManager) -> list[dict[str, Any]]:
    """Read every batch with its member outcomes, in one transaction."""
    engine = manager.engine()
    with translate_errors(str(engine.url)), engine.connect() as conn:
        if conn.dialect.name != "sqlite":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            batches = [dict(r._mapping) for r in conn.execute(select(job_batches).order_by(job_batches.c.created_at))]
            members: dict[str, list[list[str]]] = {}
            for m in conn.execute(select(job_batch_jobs)):
                members.setdefault(m.batch_id, []).append([m.member, m.outcome, m.job_uuid])
    return [{"type": "batch", "row": row, "members": sorted(members.get(row["id"], []))} for row in batches]


def payload_filter(tenant: str | None) -> PayloadFilter | None:
    """Keep only payloads of one tenant (the envelope's `tenant`), or everything when `tenant` is None."""
    if tenant is None:
        return None

    def keep(payload: str) -> bool:
        try:
            data = json.loads(payload)
        except ValueError:
            return False
        return isinstance(data, dict) and str(data.get("tenant")) == tenant

    return keep


def snapshot(manager: QueueManager, connection: str, queues: Sequence[str], include_failed: bool,
             include_batches: bool, keep: PayloadFilter | None = None) -> Iterator[dict[str, Any]]:
    """Yield the export's records: jobs, then failed jobs, then batches (read in that order, see module doc)."""
    job_records = read_jobs(manager, connection, queues)
    failed = read_failed(manager, queues) if include_failed else []
    batches = read_batches(manager) if include_batches else []
    failed_uuids = {f["uuid"] for f in failed}
    seen: set[str] = set()
    for record in job_records:
        uuid = peek_uuid(record["payload"])
        if uuid is not None and (uuid in failed_uuids or uuid in seen):
            continue
        if keep is not None and not keep(record["payload"]):
            continue
        if uuid is not None:
            seen.add(uuid)
        yield record
    for record in failed:
        if keep is None or keep(record["payload"]):
            yield record
    yield from batches
