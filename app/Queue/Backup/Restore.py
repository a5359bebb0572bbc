"""Restore a verified export into a connection: no duplicates, nothing written until the file verified.

The whole file is verified before the first write (see SignedLines). Failed jobs, batches and,
on a database connection, the jobs themselves are written in one transaction; on Redis the
jobs follow that commit in pipelined chunks. A job, failed job or batch already present
(same uuid / batch id) is skipped, so an import cut short (Redis down mid-way) is resumed by
running it again; a completed import is recorded under its export id in the cache store, and
importing the same file again afterwards adds nothing even if its jobs have since run.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection

from app.Queue.Backup.SignedLines import VerifiedExport
from app.Queue.Backup.Snapshot import read_jobs
from app.Queue.Database.connection import describe, translate_errors
from app.Queue.Database.tables import FAILED_TABLE, JOBS_TABLE, failed_jobs, job_batch_jobs, job_batches, jobs
from app.Queue.errors import ConfigurationError, MissingTablesError
from app.Queue.FailedJobs import DatabaseFailedJobProvider
from app.Queue.Payload import peek_uuid
from app.Queue.Redis.RedisRecord import RedisRecord
from app.Queue.Support.time import now, now_int
from app.Tenancy.FairQueues import payload_tenant, tenant_queue

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager

LEDGER_TTL = 400 * 86400  # seconds a finished import is remembered (re-importing the file is then a no-op)
CHUNK = 500


@dataclass
class ImportReport:
    """What an import wrote and what it skipped as already present."""

    jobs: int = 0
    failed: int = 0
    batches: int = 0
    skipped: int = 0
    already_imported: bool = False
    by_queue: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        if self.already_imported:
            return "This export was already imported; nothing added."
        return (f"Imported {self.jobs} job(s), {self.failed} failed job(s), {self.batches} batch(es); "
                f"skipped {self.skipped} already present.")


def ledger_key(export_id: str) -> str:
    return f"queue:import:{export_id}"


def require_tables(manager: QueueManager, connection: str) -> None:
    """Refuse to import into a database that was never migrated (one line naming the fix)."""
    engine = manager.engine()
    with translate_errors(str(engine.url)):
        present = set(inspect(engine).get_table_names())
    needed = {FAILED_TABLE, "job_batches", "job_batch_jobs"}
    if manager.connection_config(connection).get("driver") == "database":
        needed.add(JOBS_TABLE)
    if manager.config.get("cache_store", "database") != "redis":
        needed.add("cache")
    missing = sorted(needed - present)
    if missing:
        raise MissingTablesError(f"{describe(str(engine.url))} lacks {', '.join(missing)}")


def restore(manager: QueueManager, export: VerifiedExport, connection: str) -> ImportReport:
    """Import `export` into `connection`; returns what was written."""
    kind = manager.connection_config(connection).get("driver", connection)
    if kind not in ("database", "redis"):
        raise ConfigurationError(f"cannot import into connection {connection!r} (driver {kind!r}); use a database or redis connection")
    require_tables(manager, connection)
    report = ImportReport()
    if manager.cache.get(ledger_key(export.export_id)) is not None:
        report.already_imported = True
        return report
    job_lines = _new_jobs(manager, connection, export, report)
    failed_lines = _new_failed(manager, export, report)
    batch_lines = _new_batches(manager, export, report)
    engine = manager.engine()
    failed_in_sql = isinstance(manager.failed, DatabaseFailedJobProvider)
    with translate_errors(str(engine.url)), engine.begin() as conn:
        if failed_in_sql:
            _write_failed(conn, failed_lines, connection)
        _write_batches(conn, batch_lines)
        if kind == "database":
            _write_database_jobs(conn, _routed(manager, connection, job_lines))
    if not failed_in_sql:  # QUEUE_FAILED_DRIVER=redis: its own idempotent log (failure time becomes now)
        for f in failed_lines:
            manager.failed.log(connection, str(f["queue"]), str(f["payload"]), str(f["exception"]), str(f["uuid"]))
    if kind == "redis":
        driver = manager.connection(connection)
        _write_redis_jobs(getattr(driver, "inner", driver), _routed(manager, connection, job_lines))
    report.jobs, report.failed, report.batches = len(job_lines), len(failed_lines), len(batch_lines)
    for line in job_lines:
        report.by_queue[line["queue"]] = report.by_queue.get(line["queue"], 0) + 1
    manager.cache.put(ledger_key(export.export_id), {"at": now_int(), "jobs": report.jobs}, LEDGER_TTL)
    return report


def _new_jobs(manager: QueueManager, connection: str, export: VerifiedExport, report: ImportReport) -> list[dict[str, Any]]:
    lines = list(export.of_type("job"))
    queues = sorted({str(line["queue"]) for line in lines})
    present = {peek_uuid(r["payload"]) for r in read_jobs(manager, connection, queues)} if queues else set()
    present |= set(manager.failed.ids())
    out = []
    for line in lines:
        uuid = peek_uuid(str(line["payload"]))
        if uuid is not None and uuid in present:
            report.skipped += 1
            continue
        if uuid is not None:
            present.add(uuid)
        out.append(line)
    return out


def _routed(manager: QueueManager, connection: str, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Send jobs of a fair queue to their tenant's sub-queue, as a dispatch would (app/Tenancy/FairQueues)."""
    driver = manager.connection(connection)
    is_fair = getattr(driver, "is_fair", None)
    if is_fair is None:
        return lines
    return [{**line, "queue": tenant_queue(str(line["queue"]), payload_tenant(str(line["payload"])))}
            if is_fair(str(line["queue"])) else line for line in lines]


def _new_failed(manager: QueueManager, export: VerifiedExport, report: ImportReport) -> list[dict[str, Any]]:
    present = set(manager.failed.ids())
    out = []
    for line in export.of_type("failed"):
        if line["uuid"] in present:
            report.skipped += 1
            continue
        present.add(line["uuid"])
        out.append(line)
    return out


def _new_batches(manager: QueueManager, export: VerifiedExport, report: ImportReport) -> list[dict[str, Any]]:
    lines = list(export.of_type("batch"))
    ids = [str(line["row"]["id"]) for line in lines]
    if not ids:
        return []
    engine = manager.engine()
    with translate_errors(str(engine.url)), engine.connect() as conn:
        present = {r[0] for r in conn.execute(select(job_batches.c.id).where(job_batches.c.id.in_(ids)))}
    report.skipped += sum(1 for i in ids if i in present)
    return [line for line in lines if str(line["row"]["id"]) not in present]


def _write_failed(conn: Connection, lines: list[dict[str, Any]], connection: str) -> None:
    rows = [dict(uuid=str(f["uuid"]), connection=connection, queue=str(f["queue"]), payload=str(f["payload"]),
                 exception=str(f["exception"]), failed_at=int(f["failed_at"])) for f in lines]
    for part in _chunks(rows):
        conn.execute(failed_jobs.insert(), part)


def _write_batches(conn: Connection, lines: list[dict[str, Any]]) -> None:
    columns = {c.name for c in job_batches.columns}
    for line in lines:
        conn.execute(job_batches.insert().values(**{k: v for k, v in line["row"].items() if k in columns}))
        members = [dict(batch_id=str(line["row"]["id"]), member=str(m[0]), outcome=str(m[1]), job_uuid=str(m[2]))
                   for m in line.get("members") or []]
        if members:
            conn.execute(job_batch_jobs.insert(), members)


def _write_database_jobs(conn: Connection, lines: list[dict[str, Any]]) -> None:
    created = now_int()
    rows = [dict(queue=str(j["queue"]), payload=str(j["payload"]), attempts=int(j["attempts"]),
                 priority=int(j["priority"]), reserved_at=None, reserved_by=None,
                 available_at=_due(j, created), created_at=created) for j in lines]
    for part in _chunks(rows):
        conn.execute(jobs.insert(), part)


def _write_redis_jobs(driver: Any, lines: list[dict[str, Any]]) -> None:
    """Add records (attempts kept) in the driver's layout: `seq|priority|attempts|holder|payload`."""
    from app.Queue.Redis.errors import translate_errors as redis_errors  # lazy: redis-py only for Redis imports

    by_queue: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_queue.setdefault(str(line["queue"]), []).append(line)
    t = now()
    with redis_errors(driver.config):
        for queue, items in by_queue.items():
            keys = driver.keys(queue)
            last = int(driver.client.incrby(keys.seq, len(items)))
            seq = last - len(items)
            pipe = driver.client.pipeline(transaction=False)
            for part in _chunks(items):
                ready: dict[str, float] = {}
                later: dict[str, float] = {}
                for item in part:
                    seq += 1
                    record = RedisRecord.new(seq, int(item['priority']), item['payload'], int(item['attempts']))
                    at = _due(item, t)
                    if at > t:
                        later[record] = at
                    else:
                        ready[record] = -int(item["priority"])
                if ready:
                    pipe.zadd(keys.pending, ready)
                    pipe.rpush(keys.notify, *([1] * len(ready)))
                if later:
                    pipe.zadd(keys.delayed, later)
            pipe.execute()


def _due(line: dict[str, Any], t: float) -> float | int:
    """When an imported job becomes available: its time if it was delayed, else now (whole seconds up, as drivers do)."""
    if line.get("state") != "delayed":
        return int(t)
    return max(math.ceil(float(line["available_at"])), int(t))


def _chunks(items: list[Any]) -> Iterable[list[Any]]:
    for i in range(0, len(items), CHUNK):
        yield items[i:i + CHUNK]
