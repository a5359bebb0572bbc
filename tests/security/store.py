"""Write to and read from the real stores the way an attacker with store access (no APP_KEY) would."""
from __future__ import annotations

import json
from typing import Any

import redis
from sqlalchemy import select, text

from app.Queue.Database.tables import cache, failed_jobs, job_batches, jobs
from app.Queue.Drivers.RedisQueue import QueueKeys
from app.Queue.Support.time import now
from app.Queue.Worker import Worker
from app.Queue.WorkerOptions import WorkerOptions
from tests.drivers.conftest import Backend


def raw_redis(backend: Backend) -> redis.Redis:
    """A bytes client on the backend's Redis (no decoding: the attacker writes any bytes)."""
    cfg = backend.manager.connection_config("redis")
    return redis.Redis(host=cfg["host"], port=int(cfg["port"]), db=int(cfg["db"]), password=cfg.get("password"))


def queue_keys(backend: Backend, queue: str = "default") -> QueueKeys:
    cfg = backend.manager.connection_config("redis")
    return QueueKeys.of(str(cfg.get("prefix") or "queues:"), queue)


def plant(backend: Backend, payload: str | bytes, queue: str = "default", attempts: Any = 0) -> None:
    """Insert one job record holding `payload` as it stands (str, or bytes that may not be UTF-8)."""
    if backend.name == "redis":
        client, keys = raw_redis(backend), queue_keys(backend, queue)
        seq = client.incr(keys.seq)
        body = payload if isinstance(payload, bytes) else payload.encode("utf-8", "surrogatepass")
        client.zadd(keys.pending, {f"{seq:015d}|0|{attempts}||".encode() + body: 0})
        client.rpush(keys.notify, 1)
        client.close()
        return
    t = int(now())
    value_sql = "CAST(:payload AS TEXT)" if isinstance(payload, bytes) and backend.name == "sqlite" else ":payload"
    with backend.manager.engine().begin() as conn:
        conn.execute(text(f"INSERT INTO jobs (queue, payload, attempts, priority, reserved_at, reserved_by, available_at, "
                          f"created_at) VALUES (:queue, {value_sql}, :attempts, 0, NULL, NULL, :t, :t)"),
                     {"queue": queue, "payload": payload, "attempts": attempts, "t": t})


def plant_member(backend: Backend, member: bytes, where: str, score: float, queue: str = "default") -> None:
    """Add a raw member to a Redis queue set: 'pending', 'delayed' or 'reserved' (Redis only)."""
    client, keys = raw_redis(backend), queue_keys(backend, queue)
    client.zadd(getattr(keys, where), {member: score})
    if where == "pending":
        client.rpush(keys.notify, 1)
    client.close()


def stored_payloads(backend: Backend, queue: str = "default") -> list[str]:
    """The signed payloads waiting in the store, as text."""
    if backend.name == "redis":
        client, keys = raw_redis(backend), queue_keys(backend, queue)
        members = client.zrange(keys.pending, 0, -1) + client.zrange(keys.delayed, 0, -1) + client.zrange(keys.reserved, 0, -1)
        client.close()
        return [m.decode("utf-8").split("|", 4)[4] for m in members]
    with backend.manager.engine().connect() as conn:
        return [r[0] for r in conn.execute(select(jobs.c.payload).where(jobs.c.queue == queue))]


def queued(backend: Backend, queue: str = "default") -> int:
    """Records left on the queue: pending, delayed and reserved."""
    return backend.driver().sizes(queue).total


def work(backend: Backend, queues: tuple[str, ...] = ("default",), **options: Any) -> int:
    """Run a worker in this process until the queues are empty; a crash raises here."""
    opts = WorkerOptions(stop_when_empty=True, sleep=0, **options)
    return Worker(backend.manager, opts).daemon(backend.connection, list(queues))


def rewrite_options(backend: Backend, batch_id: str, change: Any) -> None:
    """Rewrite job_batches.options of one batch through `change(options) -> options`."""
    with backend.manager.engine().begin() as conn:
        raw = conn.execute(select(job_batches.c.options).where(job_batches.c.id == batch_id)).scalar_one()
        conn.execute(job_batches.update().where(job_batches.c.id == batch_id)
                     .values(options=json.dumps(change(json.loads(raw)))))


def raw_store_text(backend: Backend) -> str:
    """Everything the stores hold as text: jobs, failed_jobs, job_batches, cache rows, and every Redis key."""
    parts: list[str] = []
    with backend.manager.engine().connect() as conn:
        for table, column in ((jobs, jobs.c.payload), (failed_jobs, failed_jobs.c.payload),
                              (job_batches, job_batches.c.options), (cache, cache.c.value)):
            parts.extend(str(r[0]) for r in conn.execute(select(column)))
    if backend.name == "redis":
        client = raw_redis(backend)
        readers = {
            b"string": lambda k: [client.get(k)], b"list": lambda k: client.lrange(k, 0, -1),
            b"zset": lambda k: client.zrange(k, 0, -1), b"set": lambda k: list(client.smembers(k)),
            b"hash": lambda k: [v for kv in client.hgetall(k).items() for v in kv],
        }
        for key in client.scan_iter("*"):
            parts.extend(p.decode("utf-8", "replace") for p in readers.get(client.type(key), lambda k: [])(key) if p)
        client.close()
    return "\n".join(parts)
