"""The Dashboard page's numbers and the Workload page's per-queue rows.

Queue sizes come from each connection's driver (indexed counts on SQL, Lua on Redis);
throughput from the `job_metrics` minute rows; failures from failed_jobs' `failed_at` index;
processes and status from the worker heartbeats.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, text

from app.Horizon.MastersRepository import MastersRepository
from app.Horizon.Redaction import parse_stored
from app.Horizon.SizesSummary import summary_for
from app.Horizon.MetricsRepository import MetricsRepository
from app.Queue.Database.connection import translate_errors
from app.Queue.contracts import QueueSizes
from app.Queue.Database.tables import failed_jobs, jobs
from app.Queue.Support.time import now
from app.Queue.Database.tables import JOBS_TABLE
from app.Queue.Redis.RedisRecord import RedisRecord
from app.Queue.Worker import paused_key

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager

INLINE_DRIVERS = ("sync", "null")
# Standard SQL (SQLite, MariaDB/MySQL 8, PostgreSQL): walk the queue index from one name to the next.
# The table name is QUEUE_JOBS_TABLE's (checked to be letters, digits and `_` in tables.py).
DISTINCT_QUEUES = text(
    f"WITH RECURSIVE q(name) AS (SELECT MIN(queue) FROM {JOBS_TABLE} UNION ALL "
    f"SELECT (SELECT MIN(queue) FROM {JOBS_TABLE} WHERE queue > q.name) FROM q WHERE q.name IS NOT NULL) "
    "SELECT name FROM q")
GROUPED_QUEUES = text(f"SELECT queue FROM {JOBS_TABLE} GROUP BY queue")
THROUGHPUT_MINUTES = 5


class StatsRepository:
    """Read queue sizes, waits, throughput and status for the dashboard."""

    def __init__(self, manager: QueueManager) -> None:
        self.manager = manager

    # -- counting, fast on big SQL tables -------------------------------------------------
    def queue_names(self, connection: str) -> list[str]:
        """Queues holding jobs; on SQL a loose index scan (one probe per queue, not one row per job)."""
        driver = self.manager.connection(connection)
        engine = getattr(driver, "engine", None)
        if engine is None:
            return list(driver.queues())
        # MariaDB/MySQL run GROUP BY on an index's first column as a loose index scan themselves (their
        # recursive CTE reads the whole index per step); SQLite and PostgreSQL need the recursive walk.
        query = GROUPED_QUEUES if engine.dialect.name in ("mysql", "mariadb") else DISTINCT_QUEUES
        with translate_errors(str(engine.url)), engine.connect() as conn:
            return [r[0] for r in conn.execute(query) if r[0] is not None]

    def sizes(self, connection: str, queue: str) -> QueueSizes:
        """Pending, delayed and reserved counts; on SQL index range counts of (queue, reserved_at, available_at),
        for a queue of SUMMARY_FROM_JOBS jobs or more from a count at most a few seconds old (SizesSummary.py)."""
        driver: Any = self.manager.connection(connection)
        engine = getattr(driver, "engine", None)
        if engine is None:
            return driver.sizes(queue)  # type: ignore[no-any-return]
        return summary_for(engine).sizes((connection, queue), lambda: self._count_sizes(driver, engine, queue))

    @staticmethod
    def _count_sizes(driver: Any, engine: Any, queue: str) -> QueueSizes:
        """Count a SQL queue's sizes now."""
        t = int(now())
        expired = t - float(driver.retry_after(queue))
        mine = jobs.c.queue == queue

        def count(*where: Any) -> Any:
            return select(func.count()).select_from(jobs).where(mine, *where).scalar_subquery()

        query = select(count(jobs.c.reserved_at.is_(None), jobs.c.available_at <= t),
                       count(jobs.c.reserved_at.is_(None), jobs.c.available_at > t),
                       count(jobs.c.reserved_at.is_not(None), jobs.c.reserved_at > expired),
                       count(jobs.c.reserved_at.is_not(None), jobs.c.reserved_at <= expired, jobs.c.available_at <= t),
                       count(jobs.c.reserved_at.is_not(None), jobs.c.reserved_at <= expired, jobs.c.available_at > t))
        with translate_errors(str(engine.url)), engine.connect() as conn:
            ready, later, held, lost_ready, lost_later = conn.execute(query).one()
        # a lease that ran out makes its job available again, as the driver's own sizes() counts it
        return QueueSizes(int(ready) + int(lost_ready), int(later) + int(lost_later), int(held))

    # -- which queues exist ----------------------------------------------------------------
    def connections(self, workers: list[dict[str, Any]]) -> list[str]:
        """Connections with a store: the default, those workers run on, those define_queue names."""
        qm = self.manager
        names = {qm.default_connection, *(w["connection"] for w in workers)}
        names.update(d.connection for d in qm.definitions.values() if d.connection)
        configured = qm.config["connections"]
        return sorted(n for n in names if n in configured and configured[n].get("driver", n) not in INLINE_DRIVERS)

    def targets(self, workers: list[dict[str, Any]]) -> list[tuple[str, str]]:
        """(connection, queue) pairs holding jobs, worked by a worker, or declared."""
        qm = self.manager
        pairs: set[tuple[str, str]] = set()
        for conn in self.connections(workers):
            pairs.update((conn, q) for q in self.queue_names(conn))
            pairs.add((conn, str(qm.connection_config(conn).get("queue", "default"))))
        for w in workers:
            pairs.update((w["connection"], q) for q in w["queues"] if w["connection"] in qm.config["connections"])
        for name, d in qm.definitions.items():
            pairs.add((d.connection or qm.default_connection, name))
        return sorted(p for p in pairs if qm.config["connections"].get(p[0], {}).get("driver", p[0]) not in INLINE_DRIVERS)

    # -- workload --------------------------------------------------------------------------
    def workload(self, workers: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """Per queue: pending, delayed, reserved, processes working it, oldest wait, paused."""
        if workers is None:
            workers = MastersRepository(self.manager).workers()[0]
        qm = self.manager
        targets = self.targets(workers)
        paused_keys = [paused_key(c, q) for c, q in targets]
        many = getattr(qm.cache, "many", None)
        paused = many(paused_keys) if many is not None else {k: qm.cache.get(k) for k in paused_keys}
        rows = []
        for (conn, queue), key in zip(targets, paused_keys):
            sizes = self.sizes(conn, queue)
            rows.append({
                "connection": conn, "queue": queue, "pending": sizes.pending, "delayed": sizes.delayed,
                "reserved": sizes.reserved,
                "processes": sum(1 for w in workers if w["connection"] == conn and queue in w["queues"]),
                "wait": self.oldest_wait(conn, queue) if sizes.pending else 0.0,
                "paused": bool(paused.get(key)),
            })
        return rows

    def oldest_wait(self, connection: str, queue: str) -> float | None:
        """Seconds the oldest ready job has waited (Redis: the next job's age)."""
        driver: Any = self.manager.connection(connection)
        engine = getattr(driver, "engine", None)
        if engine is not None:
            # Ordered by the whole index (queue, reserved_at, available_at): PostgreSQL then reads its first entry,
            # where MIN(available_at) under `reserved_at IS NULL` walked every ready job of the queue (12 ms at 250k).
            t = int(now())
            query = (select(jobs.c.available_at)
                     .where(jobs.c.queue == queue, jobs.c.reserved_at.is_(None), jobs.c.available_at <= t)
                     .order_by(jobs.c.queue, jobs.c.reserved_at, jobs.c.available_at).limit(1))
            with translate_errors(str(engine.url)), engine.connect() as conn:
                oldest = conn.execute(query).scalar()
            return max(0.0, now() - float(oldest)) if oldest is not None else None
        client = getattr(driver, "client", None)
        if client is None:
            return None
        first = client.zrange(driver.keys(queue).pending, 0, 0)
        if not first:
            return None
        created = parse_stored(RedisRecord.read(first[0]).payload).get("createdAt")
        return max(0.0, now() - float(created)) if isinstance(created, (int, float)) else None

    # -- the dashboard's headline ----------------------------------------------------------
    def stats(self, metrics: MetricsRepository | None = None) -> dict[str, Any]:
        """Jobs per minute, failed in the last hour, processes, max wait (and where), status, totals."""
        workers = MastersRepository(self.manager).workers()[0]
        workload = self.workload(workers)
        t = now()
        metrics = metrics or MetricsRepository(self.manager)
        recent = metrics.finished(THROUGHPUT_MINUTES)
        longest = max(workload, key=lambda r: r["wait"] or 0.0, default=None)
        return {
            "jobs_per_minute": round(sum(recent) / THROUGHPUT_MINUTES, 2),
            "processed_last_hour": metrics.finished(60)[0],
            "failed_last_hour": self.failed_since(t - 3600),
            "processes": len(workers),
            "max_wait": round(longest["wait"] or 0.0, 1) if longest else 0.0,
            "max_wait_queue": f"{longest['connection']}:{longest['queue']}" if longest and longest["wait"] else None,
            "pending": sum(r["pending"] for r in workload), "delayed": sum(r["delayed"] for r in workload),
            "reserved": sum(r["reserved"] for r in workload),
            "status": self.status(workers, workload),
            "queues": len(workload),
        }

    def failed_since(self, since: float) -> int:
        """Jobs that failed permanently since `since` (the failed_at index on SQL)."""
        failed = self.manager.failed
        if hasattr(failed, "engine"):
            query = select(func.count()).select_from(failed_jobs).where(failed_jobs.c.failed_at >= int(since))
            with translate_errors(str(failed.engine.url)), failed.engine.connect() as conn:
                return int(conn.execute(query).scalar_one())
        return sum(1 for r in failed.all() if r.failed_at >= since)

    @staticmethod
    def status(workers: list[dict[str, Any]], workload: list[dict[str, Any]]) -> str:
        """inactive: no worker beats; paused: every queue the workers take is paused; else running."""
        if not workers:
            return "inactive"
        worked = {(w["connection"], q) for w in workers for q in w["queues"]}
        paused = {(r["connection"], r["queue"]) for r in workload if r["paused"]}
        return "paused" if worked and worked <= paused else "running"
